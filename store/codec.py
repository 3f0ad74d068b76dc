"""The msgspec codec of stored events, and the upcasters that read old encodings.

The stored state of an event is the whole event Struct encoded with msgspec's MessagePack
encoder (the README's design notes give the measurement behind that choice). The topic names the
event class; a class that has evolved stores `topic#N` for its version N so upcasters can find
old encodings, and a class that was renamed keeps reading under its old topic (TOPIC_ALIASES).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic

from jobledger.domain.aggregates import ALL_EVENT_TYPES
from jobledger.domain.errors import UndecodableEventError
from jobledger.domain.events import DomainEvent, ProgressUpdated
from jobledger.domain.schedule_events import ScheduleCompleted, ScheduleDeleted

from .sqlite_chain import Row

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# Upcasters by (event class, stored version): each brings a decoded dict one version forward.
UPCASTERS: dict[tuple[type[DomainEvent], int], Upcaster] = {}


def _progress_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # Version 1 reports did not name their server; say so rather than guess.
    return {**data, "serverName": None}


UPCASTERS[(ProgressUpdated, 1)] = _progress_v1_to_v2

# Classes renamed since ledgers stored them: their old topics still read as the new classes.
TOPIC_ALIASES: dict[str, type[DomainEvent]] = {
    "jobledger.domain.schedule_events:Deleted": ScheduleDeleted,
    "jobledger.domain.schedule_events:Completed": ScheduleCompleted,
}


class NullTranscoder(Transcoder):
    """The mapper encodes whole Structs itself; the library's transcoder is never asked."""

    def encode(self, obj: Any) -> bytes:
        raise NotImplementedError("events are encoded by MsgspecMapper")

    def decode(self, data: bytes) -> Any:
        raise NotImplementedError("events are decoded by MsgspecMapper")


def event_topic(cls: type[DomainEvent]) -> str:
    """The stored topic of an event class at its current version."""
    topic = get_topic(cls)
    return topic if cls.class_version == 1 else f"{topic}#{cls.class_version}"


class MsgspecMapper(Mapper[UUID]):
    """Stores each event as one MessagePack document, decoded by type with decoders built once."""

    def __init__(self, transcoder: Transcoder | None = None, **kwargs: Any) -> None:
        super().__init__(transcoder=transcoder or NullTranscoder(), **kwargs)
        self._encode = msgspec.msgpack.Encoder().encode
        self._topics: dict[type[DomainEvent], str] = {cls: event_topic(cls) for cls in ALL_EVENT_TYPES}
        # Each decoder is built when its topic is first read: building all of them up front cost
        # about 10 ms of every command's start, and most commands read few types or none.
        self._types: dict[str, type[DomainEvent]] = {topic: cls for cls, topic in self._topics.items()}
        self._types.update(TOPIC_ALIASES)
        self._decoders: dict[str, Callable[[bytes], DomainEvent]] = {}
        self._old: dict[str, tuple[type[DomainEvent], int]] = {}
        for cls in ALL_EVENT_TYPES:
            base = get_topic(cls)
            for version in range(1, cls.class_version):
                self._old[base if version == 1 else f"{base}#{version}"] = (cls, version)

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        """Encode an event for the recorder."""
        state = self._encode(domain_event)
        if self.compressor:
            state = self.compressor.compress(state)
        if self.cipher:
            state = self.cipher.encrypt(state)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=self._topics[type(domain_event)],
            state=state,
        )

    def to_row(self, domain_event: DomainEvent) -> Row:
        """The event as our SQLite recorder stores it: (id as hex, version, topic, state). Only
        with no cipher or compressor configured (the ledger checks)."""
        return (
            domain_event.originator_id.hex,
            domain_event.originator_version,
            self._topics[type(domain_event)],
            self._encode(domain_event),
        )

    def decode_record(self, topic: str, state: bytes, position: int | None = None) -> DomainEvent:
        """Decode the stored bytes of a topic, upcasting an old encoding to the current class."""
        try:
            if self.cipher:
                state = self.cipher.decrypt(state)
            if self.compressor:
                state = self.compressor.decompress(state)
            decode = self._decoders.get(topic) or self._decoder(topic)
            return decode(state) if decode is not None else self._upcast(topic, state)
        except (msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError) as err:
            raise _undecodable(topic, f"at position {position}", err) from err

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        """Decode a stored event, upcasting an old encoding to the current class."""
        state = stored_event.state
        try:
            if self.cipher:
                state = self.cipher.decrypt(state)
            if self.compressor:
                state = self.compressor.decompress(state)
            decode = self._decoders.get(stored_event.topic) or self._decoder(stored_event.topic)
            if decode is not None:
                return decode(state)
            return self._upcast(stored_event.topic, state)
        except (msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError) as err:
            where = f"of {stored_event.originator_id} version {stored_event.originator_version}"
            raise _undecodable(stored_event.topic, where, err) from err

    def _decoder(self, topic: str) -> Callable[[bytes], DomainEvent] | None:
        """The decoder of a current topic (or an alias), built now; None for an old encoding."""
        cls = self._types.get(topic)
        if cls is None:
            return None
        decode = self._decoders[topic] = msgspec.msgpack.Decoder(cls).decode
        return decode

    def _upcast(self, topic: str, state: bytes) -> DomainEvent:
        if topic not in self._old:
            raise KeyError(f"unknown event type {topic!r} (written by a newer jobledger?)")
        cls, version = self._old[topic]
        data: dict[str, Any] = msgspec.msgpack.decode(state)
        while version < cls.class_version:
            data = UPCASTERS[(cls, version)](data)
            version += 1
        return msgspec.convert(data, type=cls)


def _undecodable(topic: str, where: str, err: Exception) -> UndecodableEventError:
    reason = str(err).strip("'\"") or type(err).__name__
    return UndecodableEventError(f"a stored event {where} ({topic}) cannot be read: {reason}", reason=reason)
