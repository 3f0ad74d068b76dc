"""active_jobs: runs not yet Done (getActiveJobs), with an ETA from their progress series."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from jobledger.domain.events import DomainEvent, JobEvent, ProgressUpdated, Submitted
from jobledger.domain.model import Job, evolve

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
    return at + timedelta(seconds=remaining), anchor_time, anchor_progress


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
        job = evolve(event, None)
        return ActiveJobRow(**msgspec.structs.asdict(job))
    previous = row.progress if row.etaAnchorTime is not None else None
    job = evolve(event, row)
    if job.state == "Done" or job.deleted:
        return None
    assert isinstance(job, ActiveJobRow)
    if isinstance(event, ProgressUpdated):
        eta, anchor_time, anchor_progress = estimate(
            job.etaAnchorTime, job.etaAnchorProgress, event.timestamp, event.progress, previous
        )
        job = msgspec.structs.replace(
            job, eta=eta, etaAnchorTime=anchor_time, etaAnchorProgress=anchor_progress
        )
    return job


ROW_TYPE = ActiveJobRow
KEY_COLUMNS = ("id",)
INDEXES: tuple[tuple[str, ...], ...] = (
    ("companyHandle", "state"),
    ("jobHandle",),
    ("originalName",),
)

EVENTS = JobEvent
