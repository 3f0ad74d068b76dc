"""The group writer of `jobledger serve` on PostgreSQL: a child process that records the commands.

    JOBLEDGER_WRITE_DB=... [JOBLEDGER_WRITE_SKEW=seconds] python -m jobledger.server.writer_process

On PostgreSQL a group's statements are round trips to the database, so they cannot run on the
server's event loop; on a thread of the server's they took the GIL from the loop between each
of them, and the two slowed each other down. Here they run in a process of their own, on the
other core: the server goes on parsing and answering requests while this process records a
group, and the requests that arrive meanwhile make its next group.

It reads requests (server/writer_frames.py) from stdin; everything waiting when it is ready is
one group, recorded in one transaction (`record_each`: a command that breaks a rule fails alone)
and answered with one frame on stdout. It stops at the end of its input, and dies with the
server: after a kill -9 of the server, no writer is left to commit what was never answered.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

from jobledger.domain.aggregates import Aggregate
from jobledger.domain.errors import LedgerError
from jobledger.service.ledger import JobLedger

from . import writer_frames as frames
from .children import as_child
from .group_commit import MAX_GROUP, Recorded, ranges_together
from .writer_frames import Answer, Asked, Group, Reply

WRITE_DB = "JOBLEDGER_WRITE_DB"  # the ledger (a PostgreSQL URL may hold a password: not in argv)
WRITE_SKEW = "JOBLEDGER_WRITE_SKEW"  # the server's max clock skew in seconds ("" for none)


def _answer(state: Aggregate | LedgerError, position: int, replayed: bool) -> Answer:
    if isinstance(state, LedgerError):
        return Answer(error=frames.failure(state))
    recorded = Recorded.of(state)
    return Answer(position, replayed, recorded.handle, recorded.record)


def record_group(ledger: JobLedger, asked: list[Asked]) -> Group:
    """Record the requests of one group in one transaction, each command on its own."""
    started = time.perf_counter()
    commands = [command for message in asked for command in message.commands]
    before = dict(ledger.appended)
    try:
        spans = ranges_together((message.commands, message.together) for message in asked)
        outcomes, positions, replayed = ledger.record_each(commands, spans)
        answers = iter(map(_answer, outcomes, positions, replayed))
        replies = [Reply(message.id, [next(answers) for _ in message.commands]) for message in asked]
        position = max(positions, default=0)
    except Exception as err:  # a store failure fails the whole group; the server goes on
        failed = frames.failure(err)
        replies = [Reply(message.id, failed=failed) for message in asked]
        position = 0
    events = {kind: count - before.get(kind, 0) for kind, count in ledger.appended.items()}
    appended = {kind: count for kind, count in events.items() if count}
    return Group(replies, len(commands), time.perf_counter() - started, position, appended)


def groups(waiting: list[Asked]) -> list[list[Asked]]:
    """The requests waiting, in order, as groups of up to MAX_GROUP commands (a request is
    never split)."""
    made: list[list[Asked]] = []
    size = 0
    for message in waiting:
        if not made or size + len(message.commands) > MAX_GROUP:
            made.append([message])
            size = len(message.commands)
        else:
            made[-1].append(message)
            size += len(message.commands)
    return made


def write(ledger: JobLedger) -> None:
    """Answer groups of requests from stdin until its end."""
    _send(Group([], 0, 0.0, ledger.head_position()))  # ready
    buffer = bytearray()
    while True:
        data = os.read(0, 1 << 20)
        if not data:
            return
        buffer += data
        for group in groups([frames.decode_asked(body) for body in frames.frames(buffer)]):
            _send(record_group(ledger, group))


def _send(group: Group) -> None:
    out = frames.frame(group)
    while out:
        out = out[os.write(1, out) :]


def main() -> None:
    """Write for the ledger named in the environment."""
    as_child()
    skew = os.environ.get(WRITE_SKEW, "")
    ledger = JobLedger(
        os.environ[WRITE_DB],
        create=False,
        max_clock_skew=timedelta(seconds=float(skew)) if skew else None,
    )
    try:
        write(ledger)
    except BrokenPipeError:  # the server is gone
        pass
    finally:
        ledger.close()


if __name__ == "__main__":
    main()
