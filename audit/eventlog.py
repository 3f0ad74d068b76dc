"""The global event log: every stored event in position order, with the handle and company it
belongs to, as `events`, `export` and `import` read it."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec

from jobledger.domain.access import AccessEvent
from jobledger.domain.aggregates import ALL_EVENT_TYPES
from jobledger.domain.errors import UndecodableEventError
from jobledger.domain.events import DomainEvent, IdempotencyKeyClaimed
from jobledger.store.reader import EventStore, Stored, Undecodable

EVENT_NAMES: tuple[str, ...] = tuple(sorted({cls.__name__ for cls in ALL_EVENT_TYPES}))
ENVELOPE_FORMAT = "jobledger-event/1"


@dataclass(frozen=True)
class Entry:
    """One stored event with where it stands and whose it is."""

    position: int
    stored: Stored
    event: DomainEvent
    handle: str
    company: str

    @property
    def name(self) -> str:
        """The event's name (its class)."""
        return type(self.event).__name__

    def fields(self) -> dict[str, Any]:
        """The event's own fields as JSON-ready builtins."""
        fields: dict[str, Any] = msgspec.to_builtins(self.event)
        for key in ("originator_id", "originator_version", "timestamp"):
            fields.pop(key, None)
        return fields

    def record(self) -> dict[str, Any]:
        """The entry as `events` prints it."""
        return {
            "position": self.position,
            "event": self.name,
            "handle": self.handle,
            "companyHandle": self.company,
            "version": self.event.originator_version,
            "timestamp": msgspec.to_builtins(self.event.timestamp),
            "fields": self.fields(),
        }

    def envelope(self, ordinal: int, link: bytes) -> dict[str, Any]:
        """The entry as `export` writes it: versioned, with the stored bytes and chain link."""
        return {
            "format": ENVELOPE_FORMAT,
            "position": self.position,
            "ordinal": ordinal,
            "originator_id": str(self.event.originator_id),
            "originator_version": self.event.originator_version,
            "topic": self.stored.topic,
            "event": self.name,
            "handle": self.handle,
            "companyHandle": self.company,
            "timestamp": msgspec.to_builtins(self.event.timestamp),
            "fields": self.fields(),
            "state": base64.b64encode(self.stored.state).decode(),
            "link": link.hex(),
        }


class EventLog:
    """Reads the ledger's events in global order and names their owners."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._owners: dict[UUID, tuple[str, str]] = {}
        self._names: dict[str, str] = {}  # stored topic -> the name of the event class it decodes to

    def owner(self, event: DomainEvent) -> tuple[str, str]:
        """(handle, company) of the run, schedule or idempotency key an event belongs to."""
        if isinstance(event, IdempotencyKeyClaimed):
            return event.jobHandle, event.companyHandle
        if isinstance(event, AccessEvent):
            return f"token:{event.tokenId}", event.companyHandle
        uuid = event.originator_id
        if uuid not in self._owners:
            try:
                first = event if event.originator_version == 1 else self.store.first_event(uuid)
            except UndecodableEventError:
                first = None  # its first event does not decode: the owner is unknown
            handle = getattr(first, "jobHandle", "")
            self._owners[uuid] = (handle, getattr(first, "companyHandle", ""))
        return self._owners[uuid]

    def entries(
        self,
        after: int = 0,
        stop: int | None = None,
        *,
        skipped: list[Undecodable] | None = None,
        names: frozenset[str] = frozenset(),
    ) -> Iterator[Entry]:
        """Every event after a position (up to `stop`), in order; with `names`, only events of
        those names (the others are passed over by their topic, not decoded). An event that does
        not decode raises UndecodableEventError; with `skipped`, it is added there and passed
        over instead."""
        decode = self.store.decode
        known = self._names
        for stored in self.store.stored(after, stop):
            if names and known.get(stored.topic, next(iter(names))) not in names:
                continue
            try:
                event = decode(stored)
            except UndecodableEventError as err:
                if skipped is None:
                    raise
                skipped.append(stored.undecodable(err.reason))
                continue
            known[stored.topic] = type(event).__name__
            if names and type(event).__name__ not in names:
                continue
            handle, company = self.owner(event)
            yield Entry(stored.position, stored, event, handle, company)
