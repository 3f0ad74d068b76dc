"""The two aggregates, Job (a run) and Schedule (a trigger), and folding either from its events."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias

from . import job, schedule
from .access import ACCESS_EVENT_TYPES
from .events import EVENT_TYPES, DomainEvent, JobEvent
from .job import Job
from .schedule import Schedule
from .schedule_events import SCHEDULE_EVENT_TYPES, ScheduleEvent

Aggregate: TypeAlias = Job | Schedule
ALL_EVENT_TYPES: tuple[type[DomainEvent], ...] = (*EVENT_TYPES, *SCHEDULE_EVENT_TYPES, *ACCESS_EVENT_TYPES)


def evolve(event: DomainEvent, state: Aggregate | None) -> Aggregate | None:
    """The state after one more event of its run or schedule (other events leave it as it is)."""
    if isinstance(event, JobEvent):
        assert state is None or isinstance(state, Job)
        return job.evolve(event, state)
    if isinstance(event, ScheduleEvent):
        assert state is None or isinstance(state, Schedule)
        return schedule.evolve(event, state)
    return state  # an idempotency claim or a token belongs to no run or schedule


def fold(events: Iterable[DomainEvent], state: Aggregate | None = None) -> Aggregate | None:
    """The state of a run or a schedule after its events (from `state`, or from nothing)."""
    for event in events:
        state = evolve(event, state)
    return state
