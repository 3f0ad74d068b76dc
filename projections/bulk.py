"""A rebuild's fold: whole views folded in memory from position 0, their rows written once.

Catching up folds each view on its own and writes the changed rows after every batch. Folding
from empty needs neither:
- each run's state is evolved once per event and serves both job_logs (the state itself) and
  active_jobs (the state plus its ETA, made into a row only if the run is still live at the end);
- rows that never change once written (detail rows) are handed back page by page, to be appended;
- every other row is written once, when the fold is done.
The result is the same as folding each view with its own `apply`, which the property tests check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jobledger.domain.events import DomainEvent, JobEvent, ProgressUpdated
from jobledger.domain.model import Job, evolve
from jobledger.projections import active_jobs, job_logs
from jobledger.projections.views import Key, View

# (position, the originator's id as hex, event): what the runner reads from the store.
Page = Sequence[tuple[int, str, DomainEvent]]


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
        self._fold_jobs = self._logs_table is not None or self._active_table is not None
        self._jobs: dict[str, Job] = {}
        self._etas: dict[str, active_jobs.Eta] = {}

    def fold(self, page: Page) -> dict[str, list[Any]]:
        """Fold one page; return the rows it adds to append-only tables, per table."""
        added: dict[str, list[Any]] = {table: [] for table in self._appended}
        appended = [(added[table].append, view) for table, view in self._appended.items()]
        folded = list(self._folded.values())
        jobs = self._jobs
        etas = self._etas
        no_eta = active_jobs.NO_ETA
        for _, hexid, event in page:
            if self._fold_jobs and isinstance(event, JobEvent):
                before = jobs.get(hexid)
                jobs[hexid] = evolve(event, before)
                if isinstance(event, ProgressUpdated) and before is not None:
                    etas[hexid] = active_jobs.next_eta(etas.get(hexid, no_eta), before, event)
            for add, view in appended:
                if isinstance(event, view.events):
                    row = view.apply(None, event)
                    if row is not None:
                        add(row)
            for view, rows in folded:
                if isinstance(event, view.events) and (key := view.key(event, hexid)) is not None:
                    row = view.apply(rows.get(key), event)
                    if row is None:
                        rows.pop(key, None)
                    else:
                        rows[key] = row
        return added

    def rows(self) -> dict[str, dict[Key, Any]]:
        """The rows of every table that is not append-only, once every page is folded."""
        result = {table: rows for table, (_, rows) in self._folded.items()}
        if self._logs_table is not None:
            result[self._logs_table] = {(hexid,): job for hexid, job in self._jobs.items()}
        if self._active_table is not None:
            no_eta = active_jobs.NO_ETA
            result[self._active_table] = {
                (hexid,): active_jobs.from_job(job, self._etas.get(hexid, no_eta))
                for hexid, job in self._jobs.items()
                if active_jobs.is_live(job)
            }
        return result
