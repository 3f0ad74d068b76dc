"""Group commit on PostgreSQL: the server's side of its writer process (server/writer_process.py).

Each request's commands go down the process's pipe at once (the writes of one turn of the loop
as one); while it records a group, the requests that arrive queue in the pipe and make its next
group. Every request is answered only after its group's commit, with the same answers as the
SQLite writer's (server/group_commit.py). Measured against a writer thread in the server, whose
round trips to the database took the GIL from the event loop between each of them: about a
quarter more commands a second, at a third of the server's CPU (README, design notes).

Should the process end (killed, or out of memory), what it had not answered fails with a 503,
and a new one is started; the commands in between are refused, never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import Counter
from collections.abc import Callable
from itertools import repeat
from typing import TypeVar, cast

from jobledger.domain.commands import Command
from jobledger.domain.errors import LedgerError, StoreError

from . import writer_frames as frames
from .children import spawn, stop
from .group_commit import Done, Recorded, ShuttingDownError, Writer
from .metrics import result_of
from .writer_frames import Group, Reply
from .writer_process import WRITE_DB, WRITE_SKEW

log = logging.getLogger("jobledger.server")
T = TypeVar("T")
STOP_WRITER_S = 60.0  # how long a stop waits for the writer to end once every answer came
RESTART_AFTER_S = 1.0  # between two tries to start a writer that did not start


class WriterGoneError(StoreError):
    """The writer process ended before it answered: the command may or may not be committed
    (a submit with an Idempotency-Key can be sent again safely)."""


class ProcessWriter(Writer):
    """The writer on PostgreSQL: a child process, and the requests waiting on it."""

    def _prepare(self) -> None:
        skew = self._ledger.max_clock_skew
        self._env = {
            **os.environ,
            WRITE_DB: self._ledger.db,
            WRITE_SKEW: "" if skew is None else str(skew.total_seconds()),
        }
        self._process: asyncio.subprocess.Process | None = None
        self._reading: asyncio.Task[None] | None = None
        self._waiting: dict[int, tuple[list[Command], asyncio.Future[list[Done]]]] = {}
        self._outgoing: list[bytes] = []
        self._next_id = 0
        self._idle = asyncio.Event()  # nothing sent waits for its answer
        self._idle.set()
        self._appended: Counter[str] = Counter()  # by the writer processes, by kind
        self._depth = 0  # commands sent and not yet answered

    async def start(self) -> None:
        """Start the writer process and wait until it has opened the ledger."""
        process = await spawn("jobledger.server.writer_process", self._env)
        assert process.stdout is not None
        try:
            ready = await _group(process.stdout)
        except asyncio.IncompleteReadError:
            raise RuntimeError(f"the writer process did not start (exit {await process.wait()})") from None
        self._process = process
        self.position = max(self.position, ready.position)
        self.ready = True
        self._reading = asyncio.get_running_loop().create_task(self._read(process, process.stdout))

    async def submit(self, commands: list[Command], *, together: bool = False) -> list[Done]:
        """Hand one request's commands to the writer (kept together, in order, in one group;
        `together`: all or none); their answers once durable."""
        if self._closing:
            raise ShuttingDownError("the server is shutting down; send the command again to its successor")
        if not self.ready:
            raise WriterGoneError("the server's writer is restarting; send the command again in a moment")
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[list[Done]] = loop.create_future()
        request = self._next_id = self._next_id + 1
        self._waiting[request] = (commands, answer)
        self._idle.clear()
        self._depth += len(commands)
        if not self._outgoing:
            loop.call_soon(self._send)
        self._outgoing.append(frames.asked(request, commands, together))
        return await answer

    async def write(self, write: Callable[[], T]) -> T:
        """Another write of the ledger's (a token's), made on a thread of the server's; the store
        keeps it and the writer's groups apart."""
        async with self._turn:
            return await asyncio.get_running_loop().run_in_executor(self._executor, write)

    async def close(self) -> None:
        """Take no new commands; answer every command already taken; stop the writer."""
        self._closing = True
        await self._idle.wait()
        process = self._process
        if process is None:
            return
        await stop(process, STOP_WRITER_S)
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reading

    @property
    def depth(self) -> int:
        """Commands sent and not yet answered."""
        return self._depth

    def events_appended(self) -> dict[str, int]:
        """The events appended since the server started, by kind: the writer processes' and the
        server's own (tokens)."""
        return dict(self._appended + self._ledger.appended)

    def _send(self) -> None:
        outgoing, self._outgoing = self._outgoing, []
        process = self._process
        if process is None or process.stdin is None or process.stdin.is_closing():
            return
        process.stdin.write(outgoing[0] if len(outgoing) == 1 else b"".join(outgoing))

    async def _read(self, process: asyncio.subprocess.Process, stdout: asyncio.StreamReader) -> None:
        try:
            while True:
                self._answer(await _group(stdout))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        code = await process.wait()
        self.ready = False
        gone = WriterGoneError(f"the server's writer process ended (exit {code}) before it answered")
        for _, answer in self._waiting.values():
            if not answer.done():
                answer.set_exception(gone)
        self._waiting.clear()
        self._depth = 0
        self._idle.set()
        if self._closing:
            return
        log.error("the writer process ended (exit %s); starting another", code)
        while not self._closing:
            try:
                await self.start()
                return
            except Exception as err:  # the store may be down as well: keep trying
                log.error("the writer process did not start: %s", err)
                await asyncio.sleep(RESTART_AFTER_S)

    def _answer(self, group: Group) -> None:
        self._metrics.observe_group(group.commands, group.seconds)
        self._appended.update(group.events)
        for reply in group.replies:
            commands, answer = self._waiting.pop(reply.id)
            self._depth -= len(commands)
            if reply.failed is not None:
                self._metrics.count_commands(commands, repeat("failed"))
                if not answer.done():
                    answer.set_exception(frames.raised(reply.failed))
                continue
            answers = _answers(reply)
            self._metrics.count_commands(commands, (result_of(done.outcome) for done in answers))
            if not answer.done():  # (a client that went away)
                answer.set_result(answers)
        if not self._waiting:
            self._idle.set()
        if group.position > self.position:
            self.position = group.position
            self._on_commit(group.position)


async def _group(stdout: asyncio.StreamReader) -> Group:
    (size,) = frames.LENGTH.unpack(await stdout.readexactly(4))
    return frames.decode_group(await stdout.readexactly(size))


def _answers(reply: Reply) -> list[Done]:
    # A command's own error is always one of the ledger's (a fault fails the whole group).
    return [
        Done(
            cast(LedgerError, frames.raised(answer.error))
            if answer.error is not None
            else Recorded(answer.handle, answer.record),
            answer.position,
            answer.replayed,
        )
        for answer in reply.answers
    ]
