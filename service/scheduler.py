"""The scheduler: fires every schedule that is due, once per due fire time.

Due schedules are found in the scheduled_jobs view (caught up first); each is then fired through
the ledger, which decides on the schedule's own events. Two schedulers ticking at once both try;
the one that loses the race to append finds the schedule no longer due and does nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from jobledger.domain.decider import check_skew
from jobledger.domain.decider import moment as time_of
from jobledger.domain.errors import OutOfRangeError
from jobledger.domain.limits import outside, time_problem
from jobledger.projections.database import ViewsDatabase
from jobledger.projections.rows import iso
from jobledger.projections.runner import Projector

from .ledger import JobLedger


def tick(
    ledger: JobLedger, projector: Projector, at: datetime | None = None, *, force: bool = False
) -> list[str]:
    """Fire what is due at `at` (default now); return the handles of the runs created.

    An `at` further ahead of the clock than the ledger's max_clock_skew is refused (ClockSkewError),
    unless `force`: a tick in the future fires schedules early, for everyone.
    """
    moment = time_of(at)
    if outside(moment):
        raise OutOfRangeError("at", time_problem(moment))
    if at is not None and not force and ledger.max_clock_skew is not None:
        check_skew(moment, ledger.max_clock_skew)
    projector.catch_up()
    fired = []
    for handle in due(projector.db, moment):
        run = ledger.fire(handle, at=moment, force=force)
        if run is not None:
            fired.append(run)
    return fired


def due(db: ViewsDatabase, moment: datetime) -> list[str]:
    """The schedules the views show due at `moment` (Normal, their next fire time come), the
    earliest first."""
    rows = db.query(
        "SELECT jobHandle FROM scheduled_jobs WHERE triggerState = 'Normal' AND nextFireTime <= ?"
        " ORDER BY nextFireTime, jobHandle",
        (iso(moment),),
    )
    return [handle for (handle,) in rows]


def run(
    ledger: JobLedger,
    projector: Projector,
    interval: float,
    stop: threading.Event,
    on_fire: Callable[[list[str]], None] | None = None,
) -> None:
    """Tick every `interval` seconds until `stop` is set."""
    while not stop.is_set():
        fired = tick(ledger, projector)
        if fired and on_fire is not None:
            on_fire(fired)
        stop.wait(interval)
