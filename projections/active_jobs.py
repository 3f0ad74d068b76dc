"""active_jobs: runs not yet Done (getActiveJobs), with an ETA from their progress series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import msgspec

from jobledger.domain.events import DomainEvent, JobEvent, ProgressUpdated, Submitted
from jobledger.domain.job import Job, evolve

NAME = "active_jobs"


class ActiveJobRow(Job, frozen=True, kw_only=True):
    """A live run: every ActiveJob field, and when it is expected to finish."""

    eta: datetime | None = None
    # The point the progress rate is measured from; reset when progress goes backwards.
    etaAnchorTime: datetime | None = None
    etaAnchorProgress: int | None = None


def estimate(
    anchor_time: datetime | None,
    anchor_progress: int | None,
    at: datetime,
    progress: int,
    previous: int | None = None,
) -> tuple[datetime | None, datetime, int]:
    """(eta, new anchor time, new anchor progress) after a progress point at `at`.

    The rate is the progress made since the anchor over the time since it. There is no estimate
    from a single point, while progress stands still, or right after it went backwards from the
    `previous` point or below the anchor (the series then starts again from that point).
    """
    if progress >= 100:
        return at, anchor_time or at, anchor_progress if anchor_progress is not None else progress
    went_back = (previous is not None and progress < previous) or (
        anchor_progress is not None and progress < anchor_progress
    )
    if anchor_time is None or anchor_progress is None or went_back:
        return None, at, progress
    elapsed = (at - anchor_time).total_seconds()
    gained = progress - anchor_progress
    if elapsed <= 0 or gained <= 0:
        return None, anchor_time, anchor_progress
    remaining = (100 - progress) * elapsed / gained
    try:
        return at + timedelta(seconds=remaining), anchor_time, anchor_progress
    except OverflowError:  # beyond the calendar (a run reported across centuries): no estimate
        return None, anchor_time, anchor_progress


def key(event: DomainEvent, hexid: str | None = None) -> tuple[str] | None:
    """The row an event touches: its run's id; None for events of other aggregates."""
    if not isinstance(event, JobEvent):
        return None
    return (hexid or event.originator_id.hex,)


def apply(row: ActiveJobRow | None, event: DomainEvent) -> ActiveJobRow | None:
    """Next row for this run; None once it is Done or deleted (it never comes back)."""
    if not isinstance(event, JobEvent):
        return row
    if row is None:
        if not isinstance(event, Submitted):
            return None
        return from_job(evolve(event, None), NO_ETA)
    job = evolve(event, row)
    if not is_live(job):
        return None
    assert isinstance(job, ActiveJobRow)
    if isinstance(event, ProgressUpdated):
        job = msgspec.structs.replace(job, **next_eta(eta_of(row), row, event)._asdict())
    return job


class Eta(NamedTuple):
    """A run's ETA and the point its progress rate is measured from."""

    eta: datetime | None
    etaAnchorTime: datetime | None
    etaAnchorProgress: int | None


NO_ETA = Eta(None, None, None)


def eta_of(row: ActiveJobRow) -> Eta:
    """The ETA fields of a row."""
    return Eta(row.eta, row.etaAnchorTime, row.etaAnchorProgress)


def next_eta(eta: Eta, before: Job, event: ProgressUpdated) -> Eta:
    """The ETA after a progress point, given the run's state before it."""
    previous = before.progress if eta.etaAnchorTime is not None else None
    return Eta(*estimate(eta.etaAnchorTime, eta.etaAnchorProgress, event.timestamp, event.progress, previous))


def is_live(job: Job) -> bool:
    """Whether a run belongs in active_jobs."""
    return job.state != "Done" and not job.deleted


def from_job(job: Job, eta: Eta) -> ActiveJobRow:
    """The row of a live run from its state and ETA (a rebuild folds the state only once)."""
    return ActiveJobRow(**msgspec.structs.asdict(job), **eta._asdict())


ROW_TYPE = ActiveJobRow
KEY_COLUMNS = ("id",)
INDEXES: tuple[tuple[str, ...], ...] = (
    ("companyHandle", "state"),
    ("jobHandle",),
    ("originalName",),
)

EVENTS = JobEvent


# A running job that has sent no progress report for this long, or whose ETA has passed, is
# shown as stalled (README, Views): by the CLI's tables and the dashboard alike.
STALLED_AFTER = timedelta(minutes=15)


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def stalled(record: dict[str, Any], reference: datetime) -> bool:
    """A running job whose ETA has passed, or with no progress report for STALLED_AFTER."""
    if record.get("state") != "Running":
        return False
    eta = _moment(record.get("eta"))
    if eta is not None and eta < reference and record.get("progress", 0) < 100:
        return True
    last = _moment(record.get("lastProgressUpdate") or record.get("startDate"))
    return last is not None and reference - last > STALLED_AFTER
