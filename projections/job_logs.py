"""job_logs: one row per run, live or done (getJobLogs): counters, outcome, endDate once done."""

from __future__ import annotations

from jobledger.domain.events import DomainEvent, JobEvent, Submitted
from jobledger.domain.job import Job, evolve

NAME = "job_logs"


def key(event: DomainEvent, hexid: str | None = None) -> tuple[str] | None:
    """The row an event touches: its run's id; None for events of other aggregates."""
    if not isinstance(event, JobEvent):
        return None
    return (hexid or event.originator_id.hex,)


def apply(row: Job | None, event: DomainEvent) -> Job | None:
    """Next row for this run: the run's whole state, kept after it is done or deleted."""
    if not isinstance(event, JobEvent):
        return row
    if row is None and not isinstance(event, Submitted):
        return None  # its Submitted did not decode and was quarantined: the run is not shown
    return evolve(event, row)


ROW_TYPE = Job
KEY_COLUMNS = ("id",)
# getJobLogs sorts by start time, or submit time for runs not started: index that expression
# (the queries use the very same text, so SQLite matches it) to read a page without sorting.
STARTED = "coalesce(startDate, submitDate)"
INDEXES: tuple[tuple[str, ...], ...] = (
    ("companyHandle", STARTED, "jobHandle"),
    (STARTED, "jobHandle"),
    ("jobHandle",),
    ("submitUserEmail",),
)

EVENTS = JobEvent
