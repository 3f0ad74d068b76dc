"""The reader port: everything outside store/ reads the ledger's stored events through this.

Projections read pages of decoded events after a position and the head; the audit reads the stored
bytes and the chain; import appends already-stored events. None of them sees a recorder, a mapper
or a table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, NamedTuple, Protocol, cast
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent

from jobledger.domain.errors import RuleError
from jobledger.domain.events import DomainEvent

from .chain import ChainRow
from .failures import store_failures
from .wakeups import Wakeups, wakeups_for

if TYPE_CHECKING:
    from eventsourcing.persistence import ApplicationRecorder

    from .codec import MsgspecMapper

PAGE = 2000

# (position, originator id as hex, event): the views key runs by the hex id as stored.
Recorded = tuple[int, str, DomainEvent]
# (position, originator id as hex, version, topic, state) as the store holds it.
RawRow = tuple[int, str, int, str, bytes]


class Stored(NamedTuple):
    """One stored event as the store holds it: its bytes are what the chain links."""

    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


class EventReader(Protocol):
    """What the views need of the store: read only."""

    def head(self) -> int:
        """Position of the last stored event (0 for an empty ledger)."""
        ...

    def pages(self, after: int, stop: int, *, size: int = PAGE) -> Iterator[list[Recorded]]:
        """Decoded events after `after`, up to and including `stop`, a page at a time."""
        ...


class EventStore(EventReader, Protocol):
    """The whole port: the views' reads, plus what the audit and import need."""

    def count(self) -> int:
        """How many events are stored."""
        ...

    def stored(self, after: int = 0, stop: int | None = None) -> Iterator[Stored]:
        """Stored events (bytes as stored) after a position, in order."""
        ...

    def decode(self, stored: Stored) -> DomainEvent:
        """The event a stored record holds (old encodings upcast)."""
        ...

    def first_event(self, originator_id: UUID) -> DomainEvent | None:
        """The first event of an aggregate (it names the run or schedule)."""
        ...

    def chain_head(self) -> ChainRow | None:
        """The last (position, ordinal, link) of the hash chain."""
        ...

    def chain_rows(self, after: int = 0) -> Iterator[ChainRow]:
        """The stored chain after a position, in order."""
        ...

    def append_stored(self, records: Sequence[Stored]) -> None:
        """Append already-stored events in one transaction (import), linked into the chain."""
        ...

    def wakeups(self) -> AbstractContextManager[Wakeups]:
        """Something to wait on until new events may have been committed."""
        ...


class ChainedRecorder(Protocol):
    """What both of our recorders (store/sqlite_recorder.py, store/postgres_recorder.py) add to
    the library's: the chain and a count."""

    def count_events(self) -> int:
        """How many events are stored."""
        ...

    def last_chain_row(self) -> ChainRow | None:
        """The head of the chain."""
        ...

    def select_chain(self, after: int, limit: int) -> list[ChainRow]:
        """Chain rows after a position, in order."""
        ...


class StoreReader:
    """The port over the ledger's recorder and codec."""

    def __init__(
        self, db: str, recorder: ApplicationRecorder, mapper: MsgspecMapper, *, owner: object = None
    ) -> None:
        self.db = db
        # The application that opened the recorder closes it when it is collected; a reader
        # handed on without it (to a projector) keeps it alive.
        self._owner = owner
        self._recorder = recorder
        self._chained = cast(ChainedRecorder, recorder)  # the store opens only our recorders
        self._mapper = mapper
        # Our SQLite recorder hands out its rows directly: no Notification objects, which were
        # most of the cost of reading when measured.
        self._rows: Callable[[int, int, int], list[RawRow]] | None = getattr(recorder, "select_stored", None)

    def head(self) -> int:
        """Position of the last stored event (0 for an empty ledger). On PostgreSQL positions can
        have gaps (a writer that lost a race used one up), so this may exceed count()."""
        with store_failures(self.db):
            return int(self._recorder.max_notification_id() or 0)

    def count(self) -> int:
        """How many events are stored."""
        with store_failures(self.db):
            return self._chained.count_events()

    def pages(self, after: int, stop: int, *, size: int = PAGE) -> Iterator[list[Recorded]]:
        """Decoded events after `after`, up to and including `stop`, a page at a time."""
        decode = self._mapper.decode_record
        while after < stop:
            rows = self._raw_page(after, stop, size)
            if not rows:
                return
            yield [(at, hexid, decode(topic, state, at)) for at, hexid, _, topic, state in rows]
            after = rows[-1][0]

    def stored(self, after: int = 0, stop: int | None = None) -> Iterator[Stored]:
        """Stored events (bytes as stored) after a position, in order."""
        end = self.head() if stop is None else stop
        while after < end:
            rows = self._raw_page(after, end, PAGE)
            if not rows:
                return
            for at, hexid, version, topic, state in rows:
                yield Stored(at, UUID(hexid), version, topic, state)
            after = rows[-1][0]

    def decode(self, stored: Stored) -> DomainEvent:
        """The event a stored record holds (old encodings upcast)."""
        return self._mapper.decode_record(stored.topic, stored.state, stored.position or None)

    def first_event(self, originator_id: UUID) -> DomainEvent | None:
        """The first event of an aggregate (it names the run or schedule)."""
        with store_failures(self.db):
            found = self._recorder.select_events(originator_id, limit=1)
        return self._mapper.to_domain_event(found[0]) if found else None

    def chain_head(self) -> ChainRow | None:
        """The last (position, ordinal, link) of the hash chain."""
        with store_failures(self.db):
            return self._chained.last_chain_row()

    def chain_rows(self, after: int = 0) -> Iterator[ChainRow]:
        """The stored chain after a position, in order."""
        while True:
            with store_failures(self.db):
                rows = self._chained.select_chain(after, PAGE)
            if not rows:
                return
            yield from rows
            after = rows[-1][0]

    def append_stored(self, records: Sequence[Stored]) -> None:
        """Append already-stored events in one transaction (import), linked into the chain."""
        events = [StoredEvent(r.originator_id, r.originator_version, r.topic, r.state) for r in records]
        try:
            with store_failures(self.db):
                self._recorder.insert_events(events)
        except IntegrityError as err:
            raise RuleError(
                "the ledger already holds an event the import would add; it changed during the import"
            ) from err

    def wakeups(self) -> AbstractContextManager[Wakeups]:
        """Something to wait on until new events may have been committed (store/wakeups.py)."""
        return wakeups_for(self._recorder)

    def _raw_page(self, after: int, stop: int, size: int) -> list[RawRow]:
        with store_failures(self.db):
            if self._rows is not None:
                return self._rows(after, stop, size)
            page = self._recorder.select_notifications(
                start=after, limit=size, stop=stop, inclusive_of_start=False
            )
        return [(n.id, n.originator_id.hex, n.originator_version, n.topic, n.state) for n in page]  # type: ignore[union-attr]
