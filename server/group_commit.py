"""Group commit: requests queue their commands; one writer appends what is waiting in one transaction.

While a group is being decided and committed, the next requests queue up; the writer then takes
all of them, up to a bound, as the next group. One fsync answers many runners, and a quiet server
still answers one command at once (no deadline to wait for). Every request is answered only after
its group's commit: an answer means durable.

On SQLite a group is decided and appended on the event loop itself and only its COMMIT (the
fsync, which releases the GIL) runs on a thread: a writer thread shares the GIL with the loop,
and waiting to take it back after each SQLite call (and for the hand-offs to and from the
thread) made a group take several times as long as its work and cost the process more CPU than
the loop gained. On PostgreSQL, whose statements are round trips, the groups are written by a
process of their own (server/process_writer.py), with the same answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from typing import TypeVar

import msgspec

from jobledger.domain.aggregates import Aggregate
from jobledger.domain.commands import Command
from jobledger.domain.errors import LedgerError
from jobledger.service.batch import Outcomes
from jobledger.service.ledger import JobLedger
from jobledger.service.records import job_record

from .metrics import Metrics, result_of

T = TypeVar("T")
Queued = tuple[list[Command], "asyncio.Future[list[Done]]", bool]  # a request: commands, answer, together
MAX_GROUP = 2000  # commands: well under the bulk appender's size, so positions come back


class ShuttingDownError(LedgerError):
    """The server is stopping and takes no new commands."""


class Recorded:
    """A command's state as the API shows it: the run's handle, and its record as JSON.

    A state the writer decided here is encoded only when an answer shows it: an array of log
    rows is answered with its last row's state, and encoding each row's would cost as much as
    deciding it. (States are frozen, so encoding later shows the same state.)
    """

    __slots__ = ("_record", "_state", "handle")

    def __init__(self, handle: str, record: bytes = b"", state: Aggregate | None = None) -> None:
        self.handle = handle
        self._record = record
        self._state = state

    @classmethod
    def of(cls, state: Aggregate) -> Recorded:
        """A state's record (job_record), encoded when first asked for."""
        return cls(state.jobHandle, state=state)

    @property
    def record(self) -> bytes:
        if not self._record and self._state is not None:
            self._record = _encode(job_record(self._state, last_event=True))
        return self._record


@dataclass(frozen=True, slots=True)
class Done:
    """One command's answer: its state (or error), its last position, whether it was a replay."""

    outcome: Recorded | LedgerError
    position: int
    replayed: bool


_encode = msgspec.json.Encoder().encode


class Writer(ABC):
    """The only writer of the server's ledger: what the app asks of it, on either store."""

    def __init__(
        self,
        ledger: JobLedger,
        executor: ThreadPoolExecutor,
        on_commit: Callable[[int], None],
        metrics: Metrics,
    ) -> None:
        self._ledger = ledger
        self._executor = executor  # the server's thread for the store
        self._on_commit = on_commit  # told the position of each commit
        self._metrics = metrics
        self._closing = False
        self._turn = asyncio.Lock()  # a write of the server's own (a token's) at a time
        self.position = 0  # of the last event the writer committed
        self.ready = False  # taking commands
        self._prepare()

    @abstractmethod
    def _prepare(self) -> None:
        """Set up what a kind of writer keeps besides (called by __init__)."""

    @abstractmethod
    async def start(self) -> None:
        """Start writing (inside the running event loop)."""

    @abstractmethod
    async def submit(self, commands: list[Command], *, together: bool = False) -> list[Done]:
        """Hand one request's commands to the writer (kept together, in order, in one group);
        their answers once durable. `together`: all of them are recorded or none (a runner's
        array of log rows), else each stands alone."""

    @abstractmethod
    async def write(self, write: Callable[[], T]) -> T:
        """Another write of the ledger's (a token's), made between two groups or beside them."""

    @abstractmethod
    async def close(self) -> None:
        """Take no new commands; answer every command already taken; stop."""

    @property
    @abstractmethod
    def depth(self) -> int:
        """Commands taken and not yet answered."""

    @abstractmethod
    def events_appended(self) -> dict[str, int]:
        """The events appended since the server started, by kind."""


class GroupWriter(Writer):
    """The writer on SQLite: groups decided and appended on the event loop, committed on a thread."""

    def _prepare(self) -> None:
        self._queue: asyncio.Queue[Queued] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start draining the queue (inside the running event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._drain())
        self.ready = True

    def events_appended(self) -> dict[str, int]:
        """The events appended since the server started, by kind."""
        return dict(self._ledger.appended)

    @property
    def depth(self) -> int:
        """Commands waiting for a group."""
        return self._queue.qsize()

    async def submit(self, commands: list[Command], *, together: bool = False) -> list[Done]:
        """Queue commands of one request (kept together, in order, in one group; `together`: all
        or none); their answers once durable."""
        if self._closing:
            raise ShuttingDownError("the server is shutting down; send the command again to its successor")
        answer: asyncio.Future[list[Done]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((commands, answer, together))
        return await answer

    async def write(self, write: Callable[[], T]) -> T:
        """Another write of the ledger's (a token's, an all-or-none batch's), between two groups,
        on the thread: its fsync does not hold the event loop."""
        async with self._turn:
            return await asyncio.get_running_loop().run_in_executor(self._executor, write)

    async def _record_inline(self, commands: list[Command], together: list[range]) -> Outcomes:
        # Decided and appended here; the commit's fsync on the thread, while the loop takes the
        # next group's requests. What an append that then failed wrote is committed as it would
        # have been without holding (the group fails all the same).
        failed: Exception | None = None
        with self._ledger.holding_commit():
            try:
                outcomes = self._ledger.record_each(commands, together)
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
                # The write lock is taken on the thread: the views' follower may hold it a while,
                # and the loop takes the requests that join this group meanwhile.
                with contextlib.suppress(Exception):  # (the append then meets the failure)
                    await loop.run_in_executor(self._executor, self._ledger.begin_held)
                size = len(requests[0][0])
                while not self._queue.empty() and size < MAX_GROUP:
                    requests.append(self._queue.get_nowait())
                    size += len(requests[-1][0])
                commands = [command for asked, _, _ in requests for command in asked]
                spans = ranges_together((asked, together) for asked, _, together in requests)
                outcomes, positions, replayed = await self._record_inline(commands, spans)
            except Exception as err:  # a store failure fails the whole group; the server goes on
                for _, answer, _ in requests:
                    if not answer.done():
                        answer.set_exception(err)
                    self._queue.task_done()
                self._metrics.count_commands(commands, repeat("failed"))
                continue
            finally:
                # Nothing to commit unless something failed between taking the lock and
                # recording the group: the lock is not left held.
                with contextlib.suppress(Exception):
                    self._ledger.commit_held()
                self._turn.release()
            self._record(commands, time.perf_counter() - started, outcomes, positions)
            done = iter(zip(outcomes, positions, replayed, strict=True))
            for asked, answer, _ in requests:
                answers = [_done(*next(done)) for _ in asked]
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
        self._metrics.observe_group(len(commands), seconds)
        self._metrics.count_commands(commands, map(result_of, outcomes))


def ranges_together(requests: Iterable[tuple[list[Command], bool]]) -> list[range]:
    """Where a group's requests recorded all or none lie among its commands."""
    spans: list[range] = []
    start = 0
    for asked, together in requests:
        if together and len(asked) > 1:
            spans.append(range(start, start + len(asked)))
        start += len(asked)
    return spans


def _done(outcome: Aggregate | LedgerError, position: int, replayed: bool) -> Done:
    if isinstance(outcome, LedgerError):
        return Done(outcome, position, replayed)
    return Done(Recorded.of(outcome), position, replayed)
