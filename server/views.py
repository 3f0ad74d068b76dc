"""The server's views: caught up after every commit, queried in one thread of their own.

The views file is an SQLite database written by the catch-up and read by the queries; both run in
one worker thread, so the event loop never waits on SQLite, and a query never sees a half-written
batch. A query may ask for `minPosition`: it is answered once the views have folded that far.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from jobledger.projections.database import ViewsDatabase
from jobledger.projections.runner import Projector
from jobledger.projections.views import VIEWS
from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector

T = TypeVar("T")
WAIT_FOR_POSITION_S = 10.0  # how long a query waits for the views to reach its minPosition


class ViewsBehindError(Exception):
    """The views did not reach a query's minPosition in time."""


class ServedViews:
    """The views of the served ledger, kept caught up."""

    def __init__(self, ledger: JobLedger, views: str | None) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="jobledger-views")
        self._projector: Projector = self._executor.submit(open_projector, ledger, views).result()
        self.position = self._executor.submit(self._catch_up).result()
        self._behind: asyncio.Event | None = None
        self._moved: asyncio.Condition | None = None
        self._task: asyncio.Task[None] | None = None
        self.head = self.position  # the last position committed, as far as the server knows

    def start(self) -> None:
        """Start following commits (inside the running event loop)."""
        self._behind = asyncio.Event()
        self._moved = asyncio.Condition()
        self._task = asyncio.get_running_loop().create_task(self._follow())

    def committed(self, position: int) -> None:
        """The writer committed up to `position`: catch up soon."""
        self.head = max(self.head, position)
        if self._behind is not None:
            self._behind.set()

    async def query(self, read: Callable[[ViewsDatabase], T], min_position: int = 0) -> tuple[T, int]:
        """`read` of the views, once they hold every event up to `min_position`; and their position."""
        if min_position > self.position:
            await self._reach(min_position)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._read, read)

    def read_now(self, read: Callable[[ViewsDatabase], T], timeout: float = 5.0) -> T:
        """`read` of the views from another thread (a metrics scrape), waiting at most `timeout`."""
        return self._executor.submit(self._read, read).result(timeout=timeout)[0]

    async def close(self) -> None:
        """Stop following; the views keep what they hold."""
        if self._task is not None:
            self._task.cancel()
        self._executor.submit(self._projector.db.close).result()
        self._executor.shutdown()

    def _read(self, read: Callable[[ViewsDatabase], T]) -> tuple[T, int]:
        with self._projector.db.reading():
            return read(self._projector.db), self.position

    def _catch_up(self) -> int:
        self._projector.catch_up()
        return min(self._projector.db.positions(VIEWS).values())

    async def _reach(self, position: int) -> None:
        assert self._moved is not None
        if self._behind is not None and position > self.position:
            self._behind.set()  # a position committed by another writer than this server
        try:
            async with asyncio.timeout(WAIT_FOR_POSITION_S), self._moved:
                await self._moved.wait_for(lambda: self.position >= position)
        except TimeoutError:
            raise ViewsBehindError(
                f"the views did not reach position {position} within {WAIT_FOR_POSITION_S:.0f} s"
                f" (they are at {self.position})"
            ) from None

    async def _follow(self) -> None:
        assert self._behind is not None and self._moved is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._behind.wait()
            self._behind.clear()
            position = await loop.run_in_executor(self._executor, self._catch_up)
            async with self._moved:
                self.position = position
                self._moved.notify_all()
