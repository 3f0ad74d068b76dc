"""The Schedule aggregate: a trigger that fires runs, its fold and the rules of its operations.

triggerState is Normal, Paused or Complete; a deleted schedule is flagged and never fires again.
Firing is idempotent per fire time: a schedule that is not due produces no events, so a second
scheduler that lost the race to fire it simply does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import msgspec

from .cron import next_fire_time, validate, zone
from .errors import InvalidValueError, RuleError
from .handles import job_id
from .payloads import AnyPayload, payload_kind
from .schedule_events import (
    Fired,
    Paused,
    Resumed,
    ScheduleCompleted,
    Scheduled,
    ScheduleDeleted,
    ScheduleEvent,
)

TriggerState = Literal["Normal", "Paused", "Complete"]


class Schedule(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A scheduled job: every IPS ScheduledJob field, plus what the ledger keeps of its firings."""

    id: UUID
    version: int
    companyHandle: str
    jobHandle: str
    name: str
    originalName: str
    type: str
    submitUserEmail: str
    locale: str
    description: str
    payloadKind: str
    payload: AnyPayload
    execSchedule: str | None
    execTime: datetime | None
    timeZone: str
    nextFireTime: datetime | None
    triggerState: TriggerState
    submitDate: datetime
    deleted: bool = False
    lastFireTime: datetime | None = None
    lastRunHandle: str | None = None
    runCount: int = 0
    lastEventTime: datetime | None = None


class ScheduleRuleError(RuleError):
    """An operation does not apply to this schedule (or to a run, for schedule-only operations)."""


class ScheduleValueError(ScheduleRuleError, InvalidValueError):
    """A new schedule's times that cannot be (both execTime and execSchedule, or an expression
    that never fires): bad input (a 400 over HTTP), not a rule a state broke."""


class ScheduleOnlyError(ScheduleRuleError):
    """A schedule's operation (pause, resume, execute) was asked of a run."""

    def __init__(self, message: str, *, verb: str, run: str, schedule: str | None) -> None:
        self.verb, self.run, self.schedule = verb, run, schedule
        super().__init__(message)


class NotARunError(ScheduleRuleError):
    """A run's operation was asked of a schedule."""

    def __init__(self, message: str, *, original_name: str) -> None:
        self.original_name = original_name
        super().__init__(message)


def evolve(event: ScheduleEvent, schedule: Schedule | None) -> Schedule:
    """The schedule's state after one more event: the only place a Schedule changes.

    Every event moves the version and lastEventTime on; what else changes is each event's own rule.
    """
    if type(event) is Scheduled:
        return _scheduled(event, schedule)
    assert schedule is not None, f"{type(event).__name__} before Scheduled"
    try:
        changes = _CHANGES[type(event)](event, schedule)
    except KeyError:
        raise TypeError(f"no evolve rule for {type(event).__name__}") from None
    return msgspec.structs.replace(
        schedule, version=event.originator_version, lastEventTime=event.timestamp, **changes
    )


def _scheduled(event: Scheduled, schedule: Schedule | None) -> Schedule:
    return Schedule(
        id=event.originator_id,
        version=event.originator_version,
        companyHandle=event.companyHandle,
        jobHandle=event.jobHandle,
        name=event.name,
        originalName=event.originalName,
        type=event.type,
        submitUserEmail=event.submitUserEmail,
        locale=event.locale,
        description=event.description,
        payloadKind=payload_kind(event.payload),
        payload=event.payload,
        execSchedule=event.execSchedule,
        execTime=event.execTime,
        timeZone=event.timeZone,
        nextFireTime=event.nextFireTime,
        triggerState="Normal",
        submitDate=event.timestamp,
        # A schedule re-created under a deleted one's name keeps counting its runs.
        runCount=schedule.runCount if schedule else 0,
        lastEventTime=event.timestamp,
    )


def _fired(event: Fired, schedule: Schedule) -> dict[str, Any]:
    return {
        "nextFireTime": schedule.nextFireTime if event.manual else event.nextFireTime,
        "lastFireTime": event.fireTime,
        "lastRunHandle": event.runHandle,
        "runCount": schedule.runCount + 1,
    }


_CHANGES: dict[type, Callable[[Any, Schedule], dict[str, Any]]] = {
    Paused: lambda event, schedule: {"triggerState": "Paused"},
    Resumed: lambda event, schedule: {"triggerState": "Normal"},
    Fired: _fired,
    ScheduleDeleted: lambda event, schedule: {"deleted": True, "nextFireTime": None},
    ScheduleCompleted: lambda event, schedule: {"triggerState": "Complete", "nextFireTime": None},
}


# --- decide ------------------------------------------------------------------------------------


def _check(schedule: Schedule, action: str, at: datetime) -> None:
    if schedule.deleted:
        raise ScheduleRuleError(f"cannot {action} schedule {schedule.jobHandle}: it was deleted")
    if schedule.lastEventTime is not None and at < schedule.lastEventTime:
        raise RuleError(
            f"time {at.isoformat()} is before the last event of schedule {schedule.jobHandle}"
            f" ({schedule.lastEventTime.isoformat()})"
        )


def first_fire_time(
    exec_time: datetime | None, exec_schedule: str | None, time_zone: str, at: datetime
) -> datetime:
    """When a new schedule fires first; refuses both times, neither, or one that never fires."""
    if exec_time is not None and exec_schedule is not None:
        raise ScheduleValueError("give at most one of execTime and execSchedule (an IPS rule)")
    zone(time_zone)
    if exec_time is not None:
        return exec_time
    if exec_schedule is None:
        raise ScheduleValueError("a schedule needs an execTime or an execSchedule")
    validate(exec_schedule)
    first = next_fire_time(exec_schedule, time_zone, at)
    if first is None:
        raise ScheduleValueError(f"schedule {exec_schedule!r} never fires after {at.isoformat()}")
    return first


def decide_schedule(
    *,
    previous: Schedule | None,
    company: str,
    handle: str,
    name: str,
    payload: AnyPayload,
    job_type: str,
    user_email: str,
    locale: str,
    description: str,
    exec_time: datetime | None,
    exec_schedule: str | None,
    time_zone: str,
    at: datetime,
) -> list[ScheduleEvent]:
    """Create a schedule (or re-create a deleted or completed one of the same name)."""
    first = first_fire_time(exec_time, exec_schedule, time_zone, at)
    if previous is not None and not previous.deleted and previous.triggerState != "Complete":
        raise ScheduleRuleError(
            f"company {company} already has a schedule named {name!r} ({handle});"
            " delete it first or choose another name"
        )
    return [
        Scheduled(
            originator_id=job_id(handle),
            originator_version=(previous.version if previous else 0) + 1,
            timestamp=at,
            companyHandle=company,
            jobHandle=handle,
            name=name,
            originalName=name,
            type=job_type,
            payload=payload,
            submitUserEmail=user_email,
            locale=locale,
            description=description,
            execSchedule=exec_schedule,
            execTime=exec_time,
            timeZone=time_zone,
            nextFireTime=first,
        )
    ]


def decide_pause(schedule: Schedule, requested_by: str, at: datetime) -> list[ScheduleEvent]:
    """Pause a Normal schedule."""
    _check(schedule, "pause", at)
    if schedule.triggerState != "Normal":
        raise ScheduleRuleError(f"cannot pause schedule {schedule.jobHandle}: it is {schedule.triggerState}")
    return [
        Paused(
            originator_id=schedule.id,
            originator_version=schedule.version + 1,
            timestamp=at,
            requestedBy=requested_by,
        )
    ]


def decide_resume(schedule: Schedule, requested_by: str, at: datetime) -> list[ScheduleEvent]:
    """Resume a Paused schedule."""
    _check(schedule, "resume", at)
    if schedule.triggerState != "Paused":
        raise ScheduleRuleError(
            f"cannot resume schedule {schedule.jobHandle}: it is {schedule.triggerState}, not Paused"
        )
    return [
        Resumed(
            originator_id=schedule.id,
            originator_version=schedule.version + 1,
            timestamp=at,
            requestedBy=requested_by,
        )
    ]


def is_due(schedule: Schedule, at: datetime) -> bool:
    """Whether a tick at `at` fires this schedule."""
    return (
        not schedule.deleted
        and schedule.triggerState == "Normal"
        and schedule.nextFireTime is not None
        and schedule.nextFireTime <= at
        and (schedule.lastEventTime is None or schedule.lastEventTime <= at)
    )


def decide_fire(schedule: Schedule, run_handle: str, at: datetime) -> list[ScheduleEvent]:
    """Fire a due schedule once, however many fire times were missed; nothing if not due."""
    if not is_due(schedule, at):
        return []
    assert schedule.nextFireTime is not None
    fire_time = schedule.nextFireTime
    following = None
    if schedule.execSchedule is not None:
        # Missed fire times fire once: the next one is the first after this tick.
        following = next_fire_time(schedule.execSchedule, schedule.timeZone, max(at, fire_time), fire_time)
    events: list[ScheduleEvent] = [
        Fired(
            originator_id=schedule.id,
            originator_version=schedule.version + 1,
            timestamp=at,
            runHandle=run_handle,
            fireTime=fire_time,
            nextFireTime=following,
        )
    ]
    if following is None:
        events.append(
            ScheduleCompleted(
                originator_id=schedule.id, originator_version=schedule.version + 2, timestamp=at
            )
        )
    return events


def decide_execute(schedule: Schedule, run_handle: str, at: datetime) -> list[ScheduleEvent]:
    """Run a schedule's job now; the trigger and its next fire time are unchanged."""
    _check(schedule, "execute", at)
    if schedule.triggerState == "Complete":
        raise ScheduleRuleError(f"cannot execute schedule {schedule.jobHandle}: it is Complete")
    return [
        Fired(
            originator_id=schedule.id,
            originator_version=schedule.version + 1,
            timestamp=at,
            runHandle=run_handle,
            fireTime=at,
            nextFireTime=schedule.nextFireTime,
            manual=True,
        )
    ]


def decide_delete_schedule(schedule: Schedule, requested_by: str, at: datetime) -> list[ScheduleEvent]:
    """Delete a schedule; it never fires again."""
    _check(schedule, "delete", at)
    return [
        ScheduleDeleted(
            originator_id=schedule.id,
            originator_version=schedule.version + 1,
            timestamp=at,
            requestedBy=requested_by,
        )
    ]
