"""The server's views: caught up after commits by a child process, queried in a thread of their own.

The views file is an SQLite database written by the follower (server/follower.py, a child process,
so folding does not take the GIL from the requests) and read by the queries in one worker thread,
so the event loop never waits on SQLite; each query reads one snapshot, never a half-written batch,
and answers with the position that snapshot holds. A query may ask for `minPosition`: it is
answered once the follower has reported the views that far.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from jobledger.projections.database import ViewsDatabase
from jobledger.projections.runner import Projector
from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector

from .children import spawn, stop
from .follower import FOLLOW_DB, FOLLOW_VIEWS
from .group_commit import ShuttingDownError

log = logging.getLogger("jobledger.server")
T = TypeVar("T")
WAIT_FOR_POSITION_S = 10.0  # how long a query waits for the views to reach its minPosition
WAIT_FOR_HEAD_S = 1.0  # how long a query without minPosition waits for the server's last commit
CATCH_UP_EVERY_S = 0.1  # under load, commits gathered this long are folded together
STOP_FOLLOWER_S = 60.0  # how long a stop waits for the follower's last catch-up


class ViewsBehindError(Exception):
    """The views did not reach a query's minPosition in time."""


class ServedViews:
    """The views of the served ledger, kept caught up."""

    def __init__(self, ledger: JobLedger, views: str | None) -> None:
        # Through the environment, not the command line: a PostgreSQL URL may hold a password.
        self._follower_env = {**os.environ, FOLLOW_DB: ledger.db, FOLLOW_VIEWS: views or ""}
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="jobledger-views")
        # The first catch-up here, so the server starts with its views current (or fails to start).
        self._projector: Projector = self._executor.submit(open_projector, ledger, views).result()
        self.position = self._executor.submit(self._catch_up).result()
        self._behind: asyncio.Event | None = None
        self._waited = asyncio.Event()  # a query waits for the views (made again in start())
        self._moved: asyncio.Condition | None = None
        self._stopping = False  # the server is stopping: a query waiting for a position ends
        self._task: asyncio.Task[None] | None = None
        self._follower: asyncio.subprocess.Process | None = None
        self.head = self.position  # the last position committed, as far as the server knows

    async def start(self) -> None:
        """Start the follower and wait for it to be ready, then follow commits."""
        self._behind = asyncio.Event()
        self._waited = asyncio.Event()
        self._moved = asyncio.Condition()
        follower = self._follower = await spawn("jobledger.server.follower", self._follower_env)
        assert follower.stdout is not None
        if not await follower.stdout.readline():  # its first line: it has opened the views
            raise RuntimeError(f"the views' follower did not start (exit {await follower.wait()})")
        self._behind.set()  # whatever was committed since the first catch-up
        self._task = asyncio.get_running_loop().create_task(self._follow(follower))

    def committed(self, position: int) -> None:
        """The writer committed up to `position`: catch up soon."""
        self.head = max(self.head, position)
        if self._behind is not None:
            self._behind.set()

    async def query(self, read: Callable[[ViewsDatabase], T], min_position: int = 0) -> tuple[T, int]:
        """`read` of the views, once they hold every event up to `min_position`; and their position."""
        if min_position > self.position:
            await self._reach(min_position)
        else:
            await self.caught_up()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._read, read)

    async def end_waits(self) -> None:
        """The server is stopping: queries waiting for a position are answered 503 at once (the
        graceful stop would wait for them, up to WAIT_FOR_POSITION_S each)."""
        self._stopping = True
        if self._moved is not None:
            async with self._moved:
                self._moved.notify_all()

    async def caught_up(self) -> None:
        """Return once the views hold what this server had committed when asked (a client that
        wrote and then reads finds its write), or after WAIT_FOR_HEAD_S if they are stuck."""
        if self.head > self.position:
            with contextlib.suppress(ViewsBehindError, ShuttingDownError):
                await self._reach(self.head, WAIT_FOR_HEAD_S)

    def read_now(self, read: Callable[[ViewsDatabase], T], timeout: float = 5.0) -> T:
        """`read` of the views from another thread (a metrics scrape), waiting at most `timeout`."""
        return self._executor.submit(self._read, read).result(timeout=timeout)[0]

    async def close(self) -> None:
        """Stop following once the follower has folded what was committed; the views keep it."""
        if self._task is not None:
            self._task.cancel()
        follower = self._follower
        if follower is not None:
            await stop(follower, STOP_FOLLOWER_S, last=b"\n")  # one last catch-up, then the end
        self._executor.submit(self._projector.db.close).result()
        self._executor.shutdown()

    def _read(self, read: Callable[[ViewsDatabase], T]) -> tuple[T, int]:
        db = self._projector.db
        with db.reading():
            return read(db), self._projector.position()

    def _catch_up(self) -> int:
        self._projector.catch_up()
        return self._projector.position()

    async def _reach(self, position: int, within: float = WAIT_FOR_POSITION_S) -> None:
        assert self._moved is not None
        if self._behind is not None and position > self.position:
            self._behind.set()  # (a position committed by another writer than this server)
            self._waited.set()
        try:
            async with asyncio.timeout(within), self._moved:
                await self._moved.wait_for(lambda: self.position >= position or self._stopping)
        except TimeoutError:
            raise ViewsBehindError(
                f"the views did not reach position {position} within {within:.0f} s"
                f" (they are at {self.position})"
            ) from None
        if self.position < position:  # (the server is stopping)
            raise ShuttingDownError(
                f"the server is shutting down before its views reached position {position}; ask its successor"
            )

    async def _follow(self, follower: asyncio.subprocess.Process) -> None:
        assert self._behind is not None and self._moved is not None
        assert follower.stdin is not None and follower.stdout is not None
        loop = asyncio.get_running_loop()
        asked = 0.0
        while True:
            await self._behind.wait()
            # Under a stream of commits, one catch-up folds what a moment gathered: fewer
            # wake-ups of both processes, and a run's many events make one write of its rows.
            # A query waiting for the views cuts the moment short.
            pause = asked + CATCH_UP_EVERY_S - loop.time()
            if pause > 0 and not self._waited.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._waited.wait(), pause)
            self._waited.clear()
            self._behind.clear()  # commits from here on are folded by the next catch-up
            asked = loop.time()
            follower.stdin.write(b"\n")
            line = await follower.stdout.readline()
            if not line:
                code = await follower.wait()
                log.error("the views' follower stopped (exit %s); the views stay behind", code)
                return
            reached = int(line)
            if reached > self.position:
                async with self._moved:
                    self.position = reached
                    self._moved.notify_all()
