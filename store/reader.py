"""The reader port: everything outside store/ reads the ledger's stored events through this.

Projections read pages of decoded events after a position and the head; the audit reads the stored
bytes and the chain; import appends already-stored events. None of them sees a recorder, a mapper
or a table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, NamedTuple, Protocol, cast
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent

from jobledger.domain.errors import RuleError, UndecodableEventError
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
# (position, originator id as hex, version, topic, state) as the store holds it; the state is
# text (str) only where it was changed to text outside the ledger.
RawRow = tuple[int, str, int, str, bytes | str]
TEXT_STATE = "its stored bytes were changed to text"


class Undecodable(NamedTuple):
    """A stored event whose bytes do not decode: the views set it aside (quarantine)."""

    position: int
    originator_id: str  # as hex, as stored
    topic: str
    reason: str


def name_positions(entries: Sequence[Undecodable], most: int = 5) -> str:
    """`position 3 (why)` for each entry, in one line (the first `most` of them)."""
    named = ", ".join(f"{u.position} ({u.reason})" for u in entries[:most])
    more = f" and {len(entries) - most} more" if len(entries) > most else ""
    return f"position{'s' if len(entries) > 1 else ''} {named}{more}"


def count_events(count: int) -> str:
    """`1 event`, `2 events`."""
    return f"{count} event{'' if count == 1 else 's'}"


class Page(list[Recorded]):
    """One page of decoded events in order; the rows that did not decode are in `undecodable`,
    and `end` is the last position read (a page may hold undecodable rows only)."""

    def __init__(self, events: Iterable[Recorded], end: int, undecodable: Sequence[Undecodable] = ()) -> None:
        super().__init__(events)
        self.end = end
        self.undecodable = list(undecodable)


class Stored(NamedTuple):
    """One stored event as the store holds it: its bytes are what the chain links."""

    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes
    # The store held the state as text (changed outside the ledger); `state` is its UTF-8 bytes.
    text: bool = False

    def undecodable(self, reason: str) -> Undecodable:
        """This event as one that does not decode, and why."""
        return Undecodable(self.position, self.originator_id.hex, self.topic, reason)


class EventReader(Protocol):
    """What the views need of the store: read only."""

    def head(self) -> int:
        """Position of the last stored event (0 for an empty ledger)."""
        ...

    def pages(self, after: int, stop: int, *, size: int = PAGE) -> Iterator[Page]:
        """Decoded events after `after`, up to and including `stop`, a page at a time; a row that
        does not decode is set aside in the page's `undecodable`, never raised."""
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

    def select_stored_of(self, originator_id: UUID, limit: int) -> list[RawRow]:
        """The first stored events of an aggregate, with their positions."""
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

    def pages(self, after: int, stop: int, *, size: int = PAGE) -> Iterator[Page]:
        """Decoded events after `after`, up to and including `stop`, a page at a time; a row that
        does not decode is set aside in the page's `undecodable`, never raised."""
        decode = self._mapper.decode_record
        while after < stop:
            rows = self._raw_page(after, stop, size)
            if not rows:
                return
            end = rows[-1][0]
            try:
                events = [(at, hexid, decode(topic, state, at)) for at, hexid, _, topic, state in rows]  # type: ignore[arg-type]
                page = Page(events, end)
            except UndecodableEventError:
                # Rare: only then is each row decoded on its own, to set the bad ones aside.
                page = self._page_setting_aside(rows, end)
            yield page
            after = end

    def _page_setting_aside(self, rows: list[RawRow], end: int) -> Page:
        decode = self._mapper.decode_record
        events: list[Recorded] = []
        bad: list[Undecodable] = []
        for at, hexid, _, topic, state in rows:
            if isinstance(state, str):
                bad.append(Undecodable(at, hexid, topic, TEXT_STATE))
                continue
            try:
                events.append((at, hexid, decode(topic, state, at)))
            except UndecodableEventError as err:
                bad.append(Undecodable(at, hexid, topic, err.reason))
        return Page(events, end, bad)

    def stored(self, after: int = 0, stop: int | None = None) -> Iterator[Stored]:
        """Stored events (bytes as stored) after a position, in order."""
        end = self.head() if stop is None else stop
        while after < end:
            rows = self._raw_page(after, end, PAGE)
            if not rows:
                return
            for row in rows:
                yield _stored(row)
            after = rows[-1][0]

    def decode(self, stored: Stored) -> DomainEvent:
        """The event a stored record holds (old encodings upcast)."""
        if stored.text:
            raise UndecodableEventError(
                f"a stored event at position {stored.position} ({stored.topic}) cannot be read: {TEXT_STATE}",
                reason=TEXT_STATE,
            )
        return self._mapper.decode_record(stored.topic, stored.state, stored.position or None)

    def first_event(self, originator_id: UUID) -> DomainEvent | None:
        """The first event of an aggregate (it names the run or schedule)."""
        found = self.first_stored(originator_id)
        return self.decode(found) if found is not None else None

    def first_stored(self, originator_id: UUID) -> Stored | None:
        """The first stored event of an aggregate, with its position."""
        found = self._stored_of(originator_id, 1)
        return found[0] if found else None

    def check_events_of(self, originator_id: UUID) -> None:
        """Decode every stored event of an aggregate; UndecodableEventError names the position
        of the first that does not decode (a plain read of an aggregate cannot)."""
        for stored in self._stored_of(originator_id, 2**62):
            self.decode(stored)

    def _stored_of(self, originator_id: UUID, limit: int) -> list[Stored]:
        # Our recorders' own select: it gives positions, and on SQLite reads a state changed to text.
        with store_failures(self.db):
            return [_stored(row) for row in self._chained.select_stored_of(originator_id, limit)]

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


def _stored(row: RawRow) -> Stored:
    at, hexid, version, topic, state = row
    if isinstance(state, str):
        return Stored(at, UUID(hexid), version, topic, state.encode(errors="surrogateescape"), text=True)
    return Stored(at, UUID(hexid), version, topic, state)
