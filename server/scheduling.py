"""The server's scheduler: every second, a Fire for each due schedule, through the group writer.

A server is its ledger's only writer, so it fires the ledger's schedules itself, as `jobledger
scheduler run` does for a ledger on a file: each tick reads the due schedules from the views and
hands the writer a Fire for each, decided on the schedule's own state (one that is no longer due,
because another scheduler fired it, fires nothing). The same tick looks for events another process
appended to the ledger (a `jobledger submit` on the server's host): the views and the streams then
catch up with them, as they do after the server's own commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from jobledger.domain.commands import Fire
from jobledger.domain.errors import LedgerError
from jobledger.service.scheduler import due

from .group_commit import ShuttingDownError, Writer
from .views import ServedViews

log = logging.getLogger("jobledger.server")
TICK_S = 1.0  # between two looks for due schedules (and for events other processes appended)


class ServedScheduler:
    """Fires the served ledger's due schedules, and notices other writers' events, every TICK_S."""

    def __init__(
        self,
        writer: Writer,
        views: ServedViews,
        stored_head: Callable[[], Awaitable[int]],
        on_commit: Callable[[int], None],
    ) -> None:
        self._writer = writer
        self._views = views
        self._stored_head = stored_head  # the store's last position (read off the event loop)
        self._on_commit = on_commit  # what the writer calls after a commit
        self._task: asyncio.Task[None] | None = None
        self._refused: dict[str, str] = {}  # a due schedule that did not fire: why, last time

    def start(self) -> None:
        """Tick every TICK_S from now on (inside the running event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Stop ticking (a tick under way is abandoned: what it handed the writer is answered)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def tick(self) -> None:
        """Catch up with other writers' events, then fire what is due now."""
        head = await self._stored_head()
        if head > self._views.head:
            self._on_commit(head)
        moment = datetime.now(UTC)
        handles, _ = await self._views.query(lambda db: due(db, moment))
        if not handles:
            return
        answers = await self._writer.submit([Fire(handle=handle, at=moment) for handle in handles])
        for handle, done in zip(handles, answers, strict=True):
            if isinstance(done.outcome, LedgerError):
                # Once for each new reason: a schedule that cannot fire is tried every tick.
                if self._refused.get(handle) != str(done.outcome):
                    log.warning("schedule %s did not fire: %s", handle, done.outcome)
                self._refused[handle] = str(done.outcome)
            else:
                self._refused.pop(handle, None)

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except ShuttingDownError:
                return
            except Exception:  # a store or views failure: the next tick tries again
                log.exception("the scheduler's tick failed; trying again in %.0f s", TICK_S)
            await asyncio.sleep(TICK_S)
