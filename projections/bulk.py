"""A rebuild's fold: whole views folded in memory from position 0, their rows written as they settle.

Catching up folds each view on its own, and reads back and rewrites rows by key. Folding from
empty needs neither:
- each run's state is evolved once per event and serves both job_logs (the state itself) and
  active_jobs (the state plus its ETA, made into a row only if the run is still live at the end);
- rows that never change once made (detail rows) are handed back page by page, to be appended;
- job_logs rows are handed back after each page that touched them, each with a slot (its rowid)
  of its own, so that a run touched again later overwrites its row in place;
- every other row (live runs, schedules: few) is handed back once, when the fold is done;
- the state of a run once done is kept packed (MessagePack, an array of its values), a quarter
  of its memory as objects.
The result is the same as folding each view with its own `apply`, which the tests check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import msgspec

from jobledger.domain.events import DomainEvent, JobEvent, ProgressUpdated, Submitted
from jobledger.domain.job import Job, evolve
from jobledger.projections import active_jobs, job_logs
from jobledger.projections.activity import RunFacts
from jobledger.projections.views import UNNAMED, Key, View

# (position, the originator's id as hex, event): what the runner reads from the store.
Page = Sequence[tuple[int, str, DomainEvent]]


class _PackedJob(Job, frozen=True, kw_only=True, gc=False, array_like=True):
    """A Job stored as an array of its values: without the field names, half the bytes."""


_encode = msgspec.msgpack.Encoder().encode
_decode_packed = msgspec.msgpack.Decoder(_PackedJob).decode


def _pack(job: Job) -> bytes:
    return _encode(msgspec.structs.astuple(job))


def _unpack(packed: bytes) -> Job:
    return Job(**msgspec.structs.asdict(_decode_packed(packed)))


class Rows(NamedTuple):
    """Rows to write to one table; with `slots`, each row goes to (or replaces) that rowid."""

    rows: list[Any]
    slots: list[int] | None = None


_Named = Callable[[DomainEvent, str, str], Any]


class _Plan(NamedTuple):
    job: bool  # evolves the run's state
    first: bool  # starts a run (every other event of a run needs its state)
    progress: bool  # moves the run's ETA
    # (table, apply, named): `named` (if any) makes the row from the event and its run's names.
    appended: tuple[
        tuple[str, Callable[[Any, DomainEvent], Any], Callable[[DomainEvent, str, str], Any] | None], ...
    ]
    folded: tuple[tuple[View, dict[Key, Any]], ...]
    run_aware: tuple[tuple[View, dict[Key, Any]], ...]  # folded with their run's facts


class BulkFold:
    """Folds pages of events into the given tables (table name -> its view), from position 0."""

    def __init__(self, tables: dict[str, View]) -> None:
        self._logs_table: str | None = None
        self._active_table: str | None = None
        self._appended: dict[str, View] = {}
        self._folded: dict[str, tuple[View, dict[Key, Any]]] = {}
        for table, view in tables.items():
            if view.name == job_logs.NAME:
                self._logs_table = table
            elif view.name == active_jobs.NAME:
                self._active_table = table
            elif view.folds_rows:
                self._folded[table] = (view, {})
            else:
                self._appended[table] = view
        run_aware = any(view.run_aware for view, _ in self._folded.values())
        self._fold_jobs = self._logs_table is not None or self._active_table is not None or run_aware
        for view, _ in self._folded.values():
            assert view.named is None, "only appended views name their runs"
        # (job handle, company) by run, for the rows that name their run: a dict lookup per row
        # (cheaper than reading them from the run's state), dropped when the run is done and
        # packed (a third of the fold's memory growth otherwise: 24 MB for 100,000 runs).
        self._keep_names = any(v.named for v in self._appended.values())
        self._names: dict[str, tuple[str, str]] = {}
        # Every run's state by id; a run once done is kept packed, as only a deletion can still
        # touch it.
        self._jobs: dict[str, Job | bytes] = {}
        self._slots: dict[str, int] = {}
        self._etas: dict[str, active_jobs.Eta] = {}
        self._plans: dict[type[DomainEvent], _Plan] = {}

    def fold(self, page: Page) -> dict[str, Rows]:
        """Fold one page; return the rows it settles, per table."""
        added: dict[str, list[Any]] = {table: [] for table in self._appended}
        touched: dict[str, None] = {}  # runs this page moved, in order, once each
        jobs = self._jobs
        etas = self._etas
        no_eta = active_jobs.NO_ETA
        plans = self._plans
        names = self._names
        for _, hexid, event in page:
            cls = type(event)
            plan = plans.get(cls) or self._plan(cls)
            # A run whose Submitted did not decode (quarantined) is skipped, as `apply` skips it.
            if plan.job and (plan.first or hexid in jobs):
                stored = jobs.get(hexid)
                before = _unpack(stored) if isinstance(stored, bytes) else stored
                jobs[hexid] = evolve(event, before)  # type: ignore[arg-type]
                touched[hexid] = None
                if plan.progress and before is not None:
                    etas[hexid] = active_jobs.next_eta(etas.get(hexid, no_eta), before, event)  # type: ignore[arg-type]
            if plan.first and self._keep_names:
                names[hexid] = (event.jobHandle, event.companyHandle)  # type: ignore[attr-defined]
            for table, apply, named in plan.appended:
                if named is None:
                    row = apply(None, event)
                else:
                    handle, company = names.get(hexid) or self._name_of(hexid)
                    row = named(event, handle, company)
                if row is not None:
                    added[table].append(row)
            if plan.run_aware and hexid in jobs:
                self._fold_run_aware(plan.run_aware, event, jobs[hexid])
            for view, rows in plan.folded:
                if (key := view.key(event, hexid)) is not None:
                    row = view.apply(rows.get(key), event)
                    if row is None:
                        rows.pop(key, None)
                    else:
                        rows[key] = row
        settled = {table: Rows(rows) for table, rows in added.items()}
        if self._logs_table is not None:
            slots = self._slots
            settled[self._logs_table] = Rows(
                [jobs[hexid] for hexid in touched],
                [slots.setdefault(hexid, len(slots) + 1) for hexid in touched],
            )
        for hexid in touched:
            job = jobs[hexid]
            if not isinstance(job, bytes) and job.state == "Done":
                jobs[hexid] = _pack(job)
                etas.pop(hexid, None)
                names.pop(hexid, None)
        return settled

    def _plan(self, cls: type[DomainEvent]) -> _Plan:
        """What an event of this class touches, worked out once per class."""
        plan = _Plan(
            job=self._fold_jobs and issubclass(cls, JobEvent),
            first=cls is Submitted,
            progress=issubclass(cls, ProgressUpdated),
            appended=tuple(
                (table, view.apply, view.named)
                for table, view in self._appended.items()
                if issubclass(cls, view.events)
            ),
            folded=tuple(
                (view, rows)
                for view, rows in self._folded.values()
                if issubclass(cls, view.events) and not view.run_aware
            ),
            run_aware=tuple(
                (view, rows)
                for view, rows in self._folded.values()
                if issubclass(cls, view.events) and view.run_aware
            ),
        )
        self._plans[cls] = plan
        return plan

    @staticmethod
    def _fold_run_aware(
        views: tuple[tuple[View, dict[Key, Any]], ...], event: DomainEvent, job: Job | bytes
    ) -> None:
        facts = RunFacts.of(_unpack(job) if isinstance(job, bytes) else job)
        for view, rows in views:
            if (key := view.key(event, facts)) is not None:
                rows[key] = view.apply(rows.get(key), event, facts)

    def _name_of(self, hexid: str) -> tuple[str, str]:
        """A run's names from its state (a row made after it was done; rare)."""
        job = self._jobs.get(hexid)
        if job is None:
            return UNNAMED  # its Submitted was quarantined
        if isinstance(job, bytes):
            job = _unpack(job)
        return job.jobHandle, job.companyHandle

    def rest(self) -> dict[str, Rows]:
        """Once every page is folded: the rows of the tables not written page by page."""
        rest = {table: Rows(list(rows.values())) for table, (_, rows) in self._folded.items()}
        if self._active_table is not None:
            no_eta = active_jobs.NO_ETA
            rest[self._active_table] = Rows(
                [
                    active_jobs.from_job(job, self._etas.get(hexid, no_eta))
                    for hexid, job in self._jobs.items()
                    if not isinstance(job, bytes) and active_jobs.is_live(job)
                ]
            )
        return rest
