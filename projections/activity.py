"""activity: how many runs started and finished (by outcome) and how many run events were
recorded, per company and minute: what the dashboard's charts read, so a chart never scans
the events or the job logs.

A row is keyed by its minute and company. The company (and, when a run finishes, its outcome)
is a fact of the run, not of each event, so the folds hand this view the run's facts with the
event (RUN_AWARE): the company never changes, and the outcome is fixed once the run is Done.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import msgspec

from jobledger.domain.constants import Outcome
from jobledger.domain.events import Completed, DomainEvent, JobEvent, Started
from jobledger.domain.job import Job

NAME = "activity"
RUN_AWARE = True


class RunFacts(NamedTuple):
    """What the activity of an event depends on besides the event: its run's company and outcome."""

    company: str
    outcome: Outcome | None

    @classmethod
    def of(cls, run: Job) -> RunFacts:
        """The facts of a run's state."""
        return cls(run.companyHandle, run.outcome)


class ActivityRow(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One company's activity in one minute (UTC)."""

    id: str  # "YYYY-MM-DDTHH:MM|company": one column, so the folds can read a row back by its key
    minute: datetime
    companyHandle: str
    events: int = 0
    started: int = 0
    success: int = 0
    warnings: int = 0
    errors: int = 0
    fatal: int = 0
    stopped: int = 0


def minute_of(moment: datetime) -> datetime:
    """The minute a moment falls in."""
    return moment.replace(second=0, microsecond=0)


def key(event: DomainEvent, facts: RunFacts | None) -> tuple[str] | None:
    """The row an event of a run counts in; None for other events and unknown runs."""
    if facts is None or not isinstance(event, JobEvent):
        return None
    return (f"{minute_text(event.timestamp)}|{facts.company}",)


def minute_text(moment: datetime) -> str:
    """The minute a moment falls in, as "YYYY-MM-DDTHH:MM" (a row's key)."""
    if moment.year >= 1000:  # isoformat pads years to four digits, as strftime does from 1000 on
        # A slice of isoformat: strftime cost three times as much, and this runs per event folded.
        return moment.isoformat()[:16]
    return f"{moment:%Y-%m-%dT%H:%M}"


def apply(row: ActivityRow | None, event: DomainEvent, facts: RunFacts) -> ActivityRow:
    """The row with this event counted."""
    if row is None:
        found = key(event, facts)
        assert found is not None
        row = ActivityRow(id=found[0], minute=minute_of(event.timestamp), companyHandle=facts.company)
    changes = {"events": row.events + 1}
    if isinstance(event, Started):
        changes["started"] = row.started + 1
    elif isinstance(event, Completed) and facts.outcome is not None:
        changes[facts.outcome] = getattr(row, facts.outcome) + 1
    return msgspec.structs.replace(row, **changes)


ROW_TYPE = ActivityRow
KEY_COLUMNS = ("id",)
INDEXES: tuple[tuple[str, ...], ...] = (("minute", "companyHandle"), ("companyHandle", "minute"))

EVENTS = JobEvent
