"""Appends a large batch from a child process while the ledger is still deciding it (SQLite only).

`JobLedger.record` decides every command before anything is stored. For a large batch that is
Python work (deciding, encoding) followed by SQLite work (inserting the events and their chain
links, hashing the links); in one process the two run one after the other, and a writer thread
cannot overlap them (the GIL: the thread waits for it after every row). So from BULK_APPEND_AT
commands on, the ledger streams the encoded rows of the events decided so far to this module,
run as a child process with a connection of its own, which inserts them in one open transaction:
the deciding and the storing use both cores. The child imports little (sqlite3 and the chain),
so it starts in a few hundredths of a second.

The batch stays all-or-nothing: the child commits only when the ledger has decided the last
command and says so, and rolls back when a rule breaks. A uniqueness failure (another writer got
there first) is reported at the commit, so the ledger decides again, exactly as in-process.

The child stays for the ledger's next large batch and stops when the ledger closes.
"""

from __future__ import annotations

import contextlib
import marshal
import queue
import sqlite3
import sys
import threading
from collections.abc import Sequence
from typing import BinaryIO, TextIO

from . import processes
from .sqlite_chain import Head, Row, SQLiteChain

BULK_APPEND_AT = 10_000  # commands; below this, starting the child costs more than it saves

# A frame: rows to insert, or "commit" / "rollback", in marshal's format: the child runs this
# very interpreter, and marshal needs no import, which the child's start-up is mostly made of
# (importing msgspec alone took 22 ms of ~50).
_Message = list[Row] | str
_QUEUED_FRAMES = 64  # frames waiting for the pipe at most (2,000 events each)


class AppendConflict(Exception):
    """The store's uniqueness refused a row: another writer appended to one of these aggregates."""


class AppenderFailed(Exception):
    """The child could not append (its one-line reason), or stopped."""


class ChildAppender:
    """The ledger's side: starts the child, streams rows, commits or rolls back."""

    def __init__(self, db_name: str, events_table: str, timeout: float) -> None:
        """Append to `events_table` of `db_name`, waiting up to `timeout` seconds for its lock."""
        self._child = processes.start(__name__, db_name, events_table, str(timeout))
        # Frames go through a thread: writing to a full pipe blocks, and a thread blocked in a
        # write holds no GIL, so the ledger goes on deciding while the child catches up.
        self._frames: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUED_FRAMES)
        self._broken = False
        self._feeder = threading.Thread(target=self._feed, name="jobledger-bulk-feeder", daemon=True)
        self._feeder.start()

    def send(self, rows: Sequence[Row]) -> None:
        """Insert these rows in the open transaction (opening it with the first)."""
        if rows:
            self._frame(list(rows))

    def commit(self) -> None:
        """Commit everything sent since the last commit or rollback."""
        self._frame("commit")
        reply = self._reply()
        if reply.startswith("conflict "):
            raise AppendConflict(reply.removeprefix("conflict "))
        if reply != "ok":
            raise AppenderFailed(reply.removeprefix("error "))

    def rollback(self) -> None:
        """Drop everything sent since the last commit or rollback."""
        self._frame("rollback")
        self._reply()

    def close(self) -> None:
        """Stop the child (what it holds uncommitted is rolled back)."""
        self._frames.put(None)
        self._feeder.join()  # it closes the child's stdin when the queue is done
        processes.stop(self._child)

    def _frame(self, message: _Message) -> None:
        if self._broken:
            raise AppenderFailed(self._stopped())
        self._frames.put(processes.frame(marshal.dumps(message)))

    def _feed(self) -> None:
        stdin = self._child.stdin
        assert stdin is not None
        while (frame := self._frames.get()) is not None:
            if self._broken:
                continue  # drain: nobody reads any more
            try:
                stdin.write(frame)
                stdin.flush()
            except OSError:
                self._broken = True
        with contextlib.suppress(OSError):
            stdin.close()

    def _reply(self) -> str:
        assert self._child.stdout is not None
        line = self._child.stdout.readline().decode(errors="replace").strip()
        if not line:
            raise AppenderFailed(self._stopped())
        return line

    def _stopped(self) -> str:
        return f"the bulk appender stopped ({processes.why_stopped(self._child)})"


def serve(db_name: str, events_table: str, timeout: float, frames: BinaryIO, replies: TextIO) -> None:
    """The child: insert rows as they come, linked into the chain; commit or roll back when told."""
    chain = SQLiteChain(events_table)
    conn = sqlite3.connect(db_name, uri=True, isolation_level=None, timeout=timeout)
    head: Head | None = None  # the chain's head while a transaction is open
    failure = ""
    for data in processes.frames(frames):
        message: _Message = marshal.loads(data)
        if isinstance(message, str):  # commit or rollback ends the transaction either way
            if conn.in_transaction:
                conn.execute("COMMIT" if message == "commit" and not failure else "ROLLBACK")
            replies.write((failure or "ok") + "\n")
            replies.flush()
            head, failure = None, ""
            continue
        if failure:
            continue  # the rest of a failed batch is dropped; the failure waits for the commit
        try:
            if head is None:
                conn.execute("BEGIN IMMEDIATE")
                head = chain.head(conn)
            _, head = chain.append(conn, message, head)
        except sqlite3.IntegrityError as err:
            failure = f"conflict {err}"
        except sqlite3.Error as err:
            failure = f"error {err}"
        if failure:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            head = None


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.stdin.buffer, sys.stdout)
