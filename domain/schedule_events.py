"""The facts of a schedule (an IPS ScheduledJob, a trigger): frozen, past-tense msgspec Structs."""

from __future__ import annotations

from datetime import datetime

from .events import DomainEvent
from .payloads import AnyPayload


class ScheduleEvent(DomainEvent, frozen=True, kw_only=True):
    """Base of the events of one schedule."""


class Scheduled(ScheduleEvent, frozen=True, kw_only=True):
    """A job was submitted with an execTime (once) or an execSchedule (recurring)."""

    companyHandle: str
    jobHandle: str
    name: str
    originalName: str
    type: str
    payload: AnyPayload
    submitUserEmail: str = ""
    locale: str = ""
    description: str = ""
    execSchedule: str | None = None
    execTime: datetime | None = None
    timeZone: str = "UTC"
    nextFireTime: datetime | None = None


class Paused(ScheduleEvent, frozen=True, kw_only=True):
    """The schedule stopped firing until resumed."""

    requestedBy: str = ""


class Resumed(ScheduleEvent, frozen=True, kw_only=True):
    """A paused schedule fires again; a fire time missed meanwhile fires once at the next tick."""

    requestedBy: str = ""


class Fired(ScheduleEvent, frozen=True, kw_only=True):
    """The schedule created a run, at its fire time or on request (execute)."""

    runHandle: str
    fireTime: datetime
    nextFireTime: datetime | None = None
    manual: bool = False


class ScheduleDeleted(ScheduleEvent, frozen=True, kw_only=True):
    """The schedule was deleted; it never fires again. Its runs are not touched."""

    requestedBy: str = ""


class ScheduleCompleted(ScheduleEvent, frozen=True, kw_only=True):
    """The schedule has no more fire times (a one-off fired, or a year field ran out)."""


SCHEDULE_EVENT_TYPES: tuple[type[ScheduleEvent], ...] = (
    Scheduled,
    Paused,
    Resumed,
    Fired,
    ScheduleDeleted,
    ScheduleCompleted,
)
