"""scheduled_jobs: schedules that may still fire (getScheduledJobs), Normal or Paused."""

from __future__ import annotations

from jobledger.domain.events import DomainEvent
from jobledger.domain.schedule import Schedule, evolve
from jobledger.domain.schedule_events import Scheduled, ScheduleEvent

NAME = "scheduled_jobs"


def key(event: DomainEvent, hexid: str | None = None) -> tuple[str] | None:
    """The row an event touches: its schedule's id; None for events of runs."""
    if not isinstance(event, ScheduleEvent):
        return None
    return (hexid or event.originator_id.hex,)


def apply(row: Schedule | None, event: DomainEvent) -> Schedule | None:
    """Next row; None once the schedule is Complete or deleted (until it is scheduled again)."""
    if not isinstance(event, ScheduleEvent):
        return row
    if row is None and not isinstance(event, Scheduled):
        return None
    schedule = evolve(event, row)
    if schedule.deleted or schedule.triggerState == "Complete":
        return None
    return schedule


ROW_TYPE = Schedule
KEY_COLUMNS = ("id",)
INDEXES: tuple[tuple[str, ...], ...] = (
    ("companyHandle",),
    ("triggerState", "nextFireTime"),
    ("originalName",),
)

EVENTS = ScheduleEvent
