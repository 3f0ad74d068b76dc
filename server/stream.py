"""The event stream: one reader fans each commit's new events out to every subscriber.

After a commit, the broadcaster reads the new events once and hands them to each open stream
(filtered there by company, job and event name); no subscriber polls the store. A new stream
first reads the history it asked for (`after`, or SSE's Last-Event-ID) and then goes on with what
the broadcaster hands it, each position once. A stream that falls far behind is closed; its
client resumes from its last id. So is a stream whose token is revoked: the events after the
revocation, in their order, are never handed to it.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from uuid import UUID

from jobledger.audit.eventlog import Entry, EventLog
from jobledger.domain.access import AccessEvent, TokenRevoked
from jobledger.domain.handles import job_id
from jobledger.store.reader import StoreReader

MAX_BEHIND = 10_000  # events queued for one stream before it is closed
PAGE = 1000


@dataclass(frozen=True)
class Filter:
    """Which events a stream wants."""

    company: str | None = None
    job: UUID | None = None
    names: frozenset[str] = frozenset()
    tokens: bool = False  # the token book's events: only for a role that may list tokens

    def wants(self, entry: Entry) -> bool:
        """Whether this entry passes."""
        return (
            (self.company is None or entry.company == self.company)
            and (self.job is None or entry.event.originator_id == self.job)
            and (not self.names or entry.name in self.names)
            and (self.tokens or not isinstance(entry.event, AccessEvent))
        )


class Subscription:
    """One open stream's queue of entries."""

    def __init__(self, wanted: Filter, holder: str | None = None) -> None:
        self.filter = wanted
        self.holder = holder  # the id of the stream's token, if it has one
        # None: closed (too far behind, the token revoked, the server stopping)
        self.queue: asyncio.Queue[Entry | None] = asyncio.Queue()

    def offer(self, entries: list[Entry]) -> None:
        if self.queue.qsize() > MAX_BEHIND:
            self.queue.put_nowait(None)
            return
        for entry in entries:
            event = entry.event
            if isinstance(event, TokenRevoked) and event.tokenId == self.holder:
                self.queue.put_nowait(None)
                return
            if self.filter.wants(entry):
                self.queue.put_nowait(entry)


class Broadcaster:
    """Reads each commit's events once and hands them to the subscriptions."""

    def __init__(self, reader: StoreReader, position: int) -> None:
        self._log = EventLog(reader)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="jobledger-stream")
        self.position = position  # every event up to here was handed out
        self._head = position
        self._subscriptions: set[Subscription] = set()
        self._ending = False
        self._moved: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def subscribers(self) -> int:
        """Open streams."""
        return len(self._subscriptions)

    def start(self) -> None:
        """Start handing out commits (inside the running event loop)."""
        self._moved = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def committed(self, position: int) -> None:
        """The writer committed up to `position`."""
        self._head = max(self._head, position)
        if self._moved is not None:
            self._moved.set()

    def subscribe(self, wanted: Filter, holder: str | None = None) -> Subscription:
        """A subscription to every event handed out from now on (closed at once when the server
        is stopping, and before any event after the revocation of the token `holder`)."""
        subscription = Subscription(wanted, holder)
        if self._ending:
            subscription.queue.put_nowait(None)
        self._subscriptions.add(subscription)
        return subscription

    def end_streams(self) -> None:
        """Close every stream, and every stream opened from now on: the server is stopping, and
        a live stream would otherwise hold its stop until the graceful timeout. The clients
        resume from their last id on the next server."""
        self._ending = True
        for subscription in self._subscriptions:
            subscription.queue.put_nowait(None)

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop handing events to a stream."""
        self._subscriptions.discard(subscription)

    async def history(self, after: int, upto: int, wanted: Filter, limit: int | None = None) -> list[Entry]:
        """Entries after `after` up to `upto` that pass the filter (at most `limit`), in order."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._read, after, upto, wanted, limit)

    async def company_of(self, handle: str) -> str | None:
        """The company of a run or schedule, or None if there is no such run or schedule."""
        loop = asyncio.get_running_loop()
        first = await loop.run_in_executor(self._executor, self._log.store.first_event, job_id(handle))
        company = getattr(first, "companyHandle", None)  # (a run's or schedule's first event names it)
        return company if isinstance(company, str) else None

    async def close(self) -> None:
        """Stop handing out; close every stream."""
        if self._task is not None:
            self._task.cancel()
        for subscription in self._subscriptions:
            subscription.queue.put_nowait(None)
        self._executor.shutdown(wait=False)

    def _read(self, after: int, upto: int, wanted: Filter, limit: int | None) -> list[Entry]:
        found = []
        for entry in self._log.entries(after, upto, names=wanted.names):
            if wanted.wants(entry):
                found.append(entry)
                if limit is not None and len(found) >= limit:
                    break
        return found

    async def _run(self) -> None:
        assert self._moved is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._moved.wait()
            self._moved.clear()
            head = self._head
            if head <= self.position:
                continue
            if not self._subscriptions:
                # Nobody to hand them to: a stream that opens later reads its history up to here.
                self.position = head
                continue
            entries = await loop.run_in_executor(self._executor, list, self._log.entries(self.position, head))
            self.position = head
            for subscription in list(self._subscriptions):
                subscription.offer(entries)
