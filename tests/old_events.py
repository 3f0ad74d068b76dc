"""Events as an older jobledger stored them, from the JSON fixtures under tests/ (byte for byte)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent


def stored_events(fixture: dict[str, Any]) -> list[StoredEvent]:
    """A fixture's events as the recorder stores them, ready for `JobLedger.append_stored`."""
    return [
        StoredEvent(
            originator_id=UUID(row["originator_id"]),
            originator_version=row["originator_version"],
            topic=row["topic"],
            state=bytes.fromhex(row["state"]),
        )
        for row in fixture["events"]
    ]
