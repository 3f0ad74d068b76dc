"""Jobs, events and tokens as JSON-ready records with the IPS field names."""

from __future__ import annotations

from typing import Any

import msgspec

from jobledger.domain.access import Token
from jobledger.domain.events import DomainEvent
from jobledger.domain.job import Job
from jobledger.domain.schedule import Schedule

# Bookkeeping of the aggregate that is not part of what IPS or an operator reads.
_HIDDEN = ("id", "payloadKind", "lastEventTime")
_HIDDEN_WITH_TIME = ("id", "payloadKind")


def payload_record(payload: Any) -> dict[str, Any]:
    """A payload's fields without the tag (the key it is shown under names its kind)."""
    fields: dict[str, Any] = msgspec.to_builtins(payload)
    fields.pop("kind", None)
    return fields


def job_record(job: Job | Schedule, *, last_event: bool = False) -> dict[str, Any]:
    """A run's or schedule's state as IPS names it, the payload under its kind (and with
    `last_event`, lastEventTime: what a client needs to rebuild the very state)."""
    record: dict[str, Any] = msgspec.to_builtins(job)
    payload = record.pop("payload")
    payload.pop("kind", None)
    for key in _HIDDEN_WITH_TIME if last_event else _HIDDEN:
        record.pop(key, None)
    record[job.payloadKind] = payload
    return record


def event_record(event: DomainEvent) -> dict[str, Any]:
    """One event as history prints it: name, version, time, and its own fields."""
    fields: dict[str, Any] = msgspec.to_builtins(event)
    for key in ("originator_id", "originator_version", "timestamp"):
        fields.pop(key)
    if "payload" in fields:
        kind = fields["payload"].pop("kind")
        fields["payload"] = {kind: fields["payload"]}
    return {
        "event": type(event).__name__,
        "version": event.originator_version,
        "timestamp": msgspec.to_builtins(event.timestamp),
        "fields": fields,
    }


def token_record(token: Token) -> dict[str, Any]:
    """A token as the API and `tokens list` show it: every field of the book's (which never holds
    a secret), times in RFC 3339."""
    record: dict[str, Any] = msgspec.to_builtins(token)
    return record
