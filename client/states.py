"""The server's JSON records back into the ledger's own types: runs, schedules and events."""

from __future__ import annotations

from typing import Any

import msgspec

from jobledger.domain.aggregates import ALL_EVENT_TYPES, Aggregate
from jobledger.domain.events import DomainEvent
from jobledger.domain.handles import job_id
from jobledger.domain.job import Job
from jobledger.domain.payloads import PAYLOAD_KINDS, AnyPayload
from jobledger.domain.schedule import Schedule

_EVENTS: dict[str, type[DomainEvent]] = {cls.__name__: cls for cls in ALL_EVENT_TYPES}


def aggregate(record: dict[str, Any]) -> Aggregate:
    """A run or schedule from its record (service/records.job_record with lastEventTime)."""
    kind = next(key for key in record if key in PAYLOAD_KINDS)
    fields = {key: value for key, value in record.items() if key != kind}
    fields["id"] = job_id(record["jobHandle"])
    fields["payloadKind"] = kind
    fields["payload"] = msgspec.convert({**record[kind], "kind": kind}, AnyPayload)
    cls: type[Aggregate] = Schedule if "triggerState" in record else Job
    return msgspec.convert(fields, cls)


def event(record: dict[str, Any], handle: str) -> DomainEvent:
    """One event of a run or schedule from its record (service/records.event_record)."""
    fields = dict(record["fields"])
    if isinstance(fields.get("payload"), dict):
        ((kind, payload),) = fields["payload"].items()
        fields["payload"] = {**payload, "kind": kind}
    fields.update(
        originator_id=job_id(handle),
        originator_version=record["version"],
        timestamp=record["timestamp"],
    )
    return msgspec.convert(fields, _EVENTS[record["event"]])
