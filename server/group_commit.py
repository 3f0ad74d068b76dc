"""Group commit: requests queue their commands; one writer appends what is waiting in one transaction.

While a group is being decided and committed, the next requests queue up; the writer then takes
all of them, up to a bound, as the next group. One fsync answers many runners, and a quiet server
still answers one command at once (no deadline to wait for). Every request is answered only after
its group's commit: an answer means durable.

On PostgreSQL a group is written from a thread of its own, so the event loop goes on taking
requests while the database answers. On SQLite a group is decided and appended on the event loop
itself and only its COMMIT (the fsync, which releases the GIL) runs on the thread: a writer thread
shares the GIL with the loop, and waiting to take it back after each SQLite call (and for the
hand-offs to and from the thread) made a group take several times as long as its work and cost
the process more CPU than the loop gained.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from jobledger.domain.aggregates import Aggregate
from jobledger.domain.commands import Command
from jobledger.domain.errors import LedgerError
from jobledger.service.batch import Outcomes
from jobledger.service.ledger import JobLedger

from .metrics import Metrics

T = TypeVar("T")
MAX_GROUP = 2000  # commands: well under the bulk appender's size, so positions come back


class ShuttingDownError(LedgerError):
    """The server is stopping and takes no new commands."""


@dataclass(frozen=True)
class Done:
    """One command's answer: its state (or error), its last position, whether it was a replay."""

    outcome: Aggregate | LedgerError
    position: int
    replayed: bool


class GroupWriter:
    """The only writer of the server's ledger."""

    def __init__(
        self,
        ledger: JobLedger,
        executor: ThreadPoolExecutor,
        on_commit: Callable[[int], None],
        metrics: Metrics,
    ) -> None:
        self._ledger = ledger
        self._executor = executor
        self._on_commit = on_commit
        self._queue: asyncio.Queue[tuple[list[Command], asyncio.Future[list[Done]]]] = asyncio.Queue()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._metrics = metrics
        self.inline = ledger.can_hold_commit  # groups decided and appended on the event loop
        self._turn = asyncio.Lock()  # one group, or one other write, at a time
        self.position = 0  # of the last event this writer appended

    def start(self) -> None:
        """Start draining the queue (inside the running event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._drain())

    @property
    def depth(self) -> int:
        """Commands waiting for a group."""
        return self._queue.qsize()

    async def submit(self, commands: list[Command]) -> list[Done]:
        """Queue commands of one request (kept together, in order, in one group); their answers
        once durable."""
        if self._closing:
            raise ShuttingDownError("the server is shutting down; send the command again to its successor")
        answer: asyncio.Future[list[Done]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((commands, answer))
        return await answer

    async def write(self, write: Callable[[], T]) -> T:
        """Another write of the ledger's (a token's), made where and as the groups are, between two."""
        async with self._turn:
            if self.inline:
                return write()
            return await asyncio.get_running_loop().run_in_executor(self._executor, write)

    async def _record_inline(self, commands: list[Command]) -> Outcomes:
        # Decided and appended here; the commit's fsync on the thread, while the loop takes the
        # next group's requests. What an append that then failed wrote is committed as it would
        # have been without holding (the group fails all the same).
        failed: Exception | None = None
        with self._ledger.holding_commit():
            try:
                outcomes = self._ledger.record_each(commands)
            except Exception as err:
                failed = err
        await asyncio.get_running_loop().run_in_executor(self._executor, self._ledger.commit_held)
        if failed is not None:
            raise failed
        return outcomes

    async def close(self) -> None:
        """Take no new commands; finish and answer every command already taken."""
        self._closing = True
        await self._queue.join()
        if self._task is not None:
            self._task.cancel()

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            requests = [await self._queue.get()]
            started = time.perf_counter()
            commands: list[Command] = []
            await self._turn.acquire()
            try:
                if self.inline:
                    # The write lock is taken on the thread: the views' follower may hold it a
                    # while, and the loop takes the requests that join this group meanwhile.
                    with contextlib.suppress(Exception):  # (the append then meets the failure)
                        await loop.run_in_executor(self._executor, self._ledger.begin_held)
                size = len(requests[0][0])
                while not self._queue.empty() and size < MAX_GROUP:
                    requests.append(self._queue.get_nowait())
                    size += len(requests[-1][0])
                commands = [command for asked, _ in requests for command in asked]
                if self.inline:
                    outcomes, positions, replayed = await self._record_inline(commands)
                else:
                    outcomes, positions, replayed = await loop.run_in_executor(
                        self._executor, self._ledger.record_each, commands
                    )
            except Exception as err:  # a store failure fails the whole group; the server goes on
                for _, answer in requests:
                    if not answer.done():
                        answer.set_exception(err)
                    self._queue.task_done()
                for kind, count in Counter(type(command).__name__ for command in commands).items():
                    self._metrics.count_commands(kind, "failed", count)
                continue
            finally:
                if self.inline:
                    # Nothing to commit unless something failed between taking the lock and
                    # recording the group: the lock is not left held.
                    with contextlib.suppress(Exception):
                        self._ledger.commit_held()
                self._turn.release()
            self._record(commands, time.perf_counter() - started, outcomes, positions)
            done = iter(zip(outcomes, positions, replayed, strict=True))
            for asked, answer in requests:
                answers = [Done(*next(done)) for _ in asked]
                if not answer.done():  # (a client that went away)
                    answer.set_result(answers)
                self._queue.task_done()
            if any(positions):
                self._on_commit(self.position)

    def _record(
        self,
        commands: list[Command],
        seconds: float,
        outcomes: list[Aggregate | LedgerError],
        positions: list[int],
    ) -> None:
        self.position = max(self.position, *positions)
        metrics = self._metrics
        metrics.group_size.observe(len(commands))
        metrics.commit_seconds.observe(seconds)
        counts = Counter(
            (type(command).__name__, "refused" if isinstance(outcome, LedgerError) else "ok")
            for command, outcome in zip(commands, outcomes, strict=True)
        )
        for (kind, result), count in counts.items():
            metrics.count_commands(kind, result, count)
