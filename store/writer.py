"""The write path: the events a decision made, appended in one transaction, or nothing.

On our SQLite recorder with plain encoding the events go in as rows (no StoredEvent objects);
otherwise through the library's recorder. From appender.BULK_APPEND_AT commands on, a batch is
streamed to the bulk appender's child process as it is decided (store/appender.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from jobledger.domain.errors import StoreError
from jobledger.domain.events import DomainEvent

from . import appender
from .appender import AppendConflict, AppenderFailed, ChildAppender
from .failures import store_failures
from .sqlite_chain import Row

if TYPE_CHECKING:
    from eventsourcing.persistence import ApplicationRecorder

    from .codec import MsgspecMapper


class LostRace(Exception):
    """Another writer appended to one of these aggregates (or took a handle) first; nothing was
    appended, and deciding again on fresh state may succeed."""


class Append(Protocol):
    """One attempt to append a batch's events as they are decided."""

    def feed(self, events: Sequence[DomainEvent]) -> None:
        """The batch's events so far (earlier ones never change)."""
        ...

    def finish(self, events: Sequence[DomainEvent]) -> list[int]:
        """Append the batch's events (all of them): durable on return; LostRace if another writer
        got there first. Their positions, where this process knows them (else none)."""
        ...

    def abandon(self) -> None:
        """A rule broke: append nothing."""
        ...


class EventWriter:
    """Appends to the ledger's store; the only code that does is the ledger service."""

    def __init__(self, db: str, recorder: ApplicationRecorder, mapper: MsgspecMapper) -> None:
        self.db = db
        self._recorder = recorder
        self._mapper = mapper
        plain = not (mapper.cipher or mapper.compressor)
        self._insert_rows: Callable[[list[Row]], list[int]] | None = (
            getattr(recorder, "insert_rows", None) if plain else None
        )
        self._bulk_target: Callable[[], tuple[str, str, float]] | None = getattr(
            recorder, "bulk_target", None
        )
        self._forget_chain_head: Callable[[], None] = getattr(recorder, "forget_chain_head", _nothing)
        self._close_writer: Callable[[], None] = getattr(recorder, "close_writer", _nothing)
        self._holding_commit: Callable[[], AbstractContextManager[None]] | None = getattr(
            recorder, "holding_commit", None
        )
        self._commit_held: Callable[[], None] = getattr(recorder, "commit_held", _nothing)
        self._begin_held: Callable[[], None] = getattr(recorder, "begin_held", _nothing)
        self._serialized: Callable[..., AbstractContextManager[None]] | None = getattr(
            recorder, "serialized", None
        )
        direct = _Direct(self)
        self._direct: AbstractContextManager[Callable[[], Append]] = nullcontext(lambda: direct)
        # A child process that appends large batches, started by the first.
        self._bulk: ChildAppender | None = None
        self._bulk_lock = threading.Lock()

    def append(self, events: Sequence[DomainEvent]) -> list[int]:
        """Append events in one transaction; their positions; LostRace if another writer got
        there first."""
        if not events:
            return []
        try:
            with store_failures(self.db):
                if self._insert_rows is not None:
                    to_row = self._mapper.to_row
                    positions = self._insert_rows([to_row(event) for event in events])
                else:
                    to_stored = self._mapper.to_stored_event
                    stored = self._recorder.insert_events([to_stored(event) for event in events])
                    positions = list(stored or ())
                return positions
        except IntegrityError as err:
            raise LostRace from err

    @property
    def can_hold_commit(self) -> bool:
        """Whether appends can leave their commit to `commit_held` (our SQLite recorder)."""
        return self._holding_commit is not None and self._insert_rows is not None

    def holding_commit(self) -> AbstractContextManager[None]:
        """Appends made inside leave their transaction open (one append at a time) until
        `commit_held`; nothing is durable before that."""
        if self._holding_commit is None:
            return nullcontext()
        return self._holding_commit()

    def begin_held(self) -> None:
        """Open the next held append's transaction, with the write lock (callable from another
        thread); StoreError on failure."""
        with store_failures(self.db):
            self._begin_held()

    def commit_held(self) -> None:
        """Commit what a held append wrote (callable from another thread); StoreError on failure,
        and then none of it stays."""
        with store_failures(self.db):
            self._commit_held()

    def exists(self, originator_id: UUID) -> bool:
        """Whether any event of this aggregate is stored."""
        with store_failures(self.db):
            return bool(self._recorder.select_events(originator_id, limit=1))

    @contextmanager
    def serialized(self, *, shared: bool = False) -> Iterator[None]:
        """Held by a writer that lost a race, while it decides and appends again: writers that
        keep meeting on the same runs then take turns, first come first served (PostgreSQL's
        advisory lock), instead of losing to each other at random. `shared`: a first try made
        while there is contention, which queues behind the turns asked for before it but not
        behind other first tries. Nothing on SQLite."""
        if self._serialized is None:
            yield
            return
        with store_failures(self.db), self._serialized(shared=shared):
            yield

    def appends(self, commands: int) -> AbstractContextManager[Callable[[], Append]]:
        """Attempts at appending a batch of `commands`: each call of what this yields starts one.

        Large batches on SQLite with plain encoding (the rows are ours to write) go through the
        bulk appender, one batch at a time; the others append in this process, and need no
        context of their own (the one served is shared: it holds nothing).
        """
        target = self._bulk_target
        if commands < appender.BULK_APPEND_AT or self._insert_rows is None or target is None:
            return self._direct
        return self._bulk_appends(target)

    @contextmanager
    def _bulk_appends(self, target: Callable[[], tuple[str, str, float]]) -> Iterator[Callable[[], Append]]:
        with self._bulk_lock:
            if self._bulk is None:
                self._bulk = ChildAppender(*target())
            bulk = self._bulk
            try:
                yield lambda: _Streamed(bulk, self._mapper)
            except StoreError:
                self._close_bulk()  # a fresh appender for the next batch
                raise
            finally:
                self._forget_chain_head()  # the child moved it

    def close(self) -> None:
        """Stop the bulk appender, if one was started, and close the append connection."""
        with self._bulk_lock:
            self._close_bulk()
        self._close_writer()

    def _close_bulk(self) -> None:
        if self._bulk is not None:
            self._bulk.close()
            self._bulk = None


class _Direct:
    """An attempt appended in this process, at the end."""

    def __init__(self, writer: EventWriter) -> None:
        self._writer = writer

    def feed(self, events: Sequence[DomainEvent]) -> None:
        """Nothing to do before the end."""

    def finish(self, events: Sequence[DomainEvent]) -> list[int]:
        """Append the batch in one transaction."""
        return self._writer.append(events)

    def abandon(self) -> None:
        """Nothing was sent."""


class _Streamed:
    """Hands a batch's events to the bulk appender as they are decided, a chunk at a time."""

    CHUNK = 2000

    def __init__(self, bulk: ChildAppender, mapper: MsgspecMapper) -> None:
        self._bulk = bulk
        self._to_row = mapper.to_row
        self._sent = 0

    def feed(self, events: Sequence[DomainEvent]) -> None:
        """The batch's events so far (earlier ones never change); sends a full chunk."""
        if len(events) - self._sent >= self.CHUNK:
            self._send(events)

    def finish(self, events: Sequence[DomainEvent]) -> list[int]:
        """Send the rest and commit; LostRace if another writer got there first. (The child
        knows the positions; no caller of a batch this large needs them.)"""
        self._send(events)
        try:
            self._bulk.commit()
        except AppendConflict as err:
            raise LostRace from err
        except AppenderFailed as err:
            raise StoreError(f"cannot append the batch: {err}") from err
        return []

    def abandon(self) -> None:
        """Roll back what the child holds."""
        self._bulk.rollback()

    def _send(self, events: Sequence[DomainEvent]) -> None:
        to_row = self._to_row
        try:
            self._bulk.send([to_row(event) for event in events[self._sent :]])
        except AppenderFailed as err:
            raise StoreError(f"cannot append the batch: {err}") from err
        self._sent = len(events)


def _nothing() -> None:
    """What a recorder without a method of ours does for it."""
