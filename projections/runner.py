"""Keeps the views caught up with the event store: catch-up, run, blue/green rebuild, verify, status.

Each page of events is folded into every view that has not seen it, and the changed rows
and the new positions are written in one transaction. The write lock is held while a batch is
applied and the positions are re-read under it, so two processes catching up at once never apply
an event twice: the second one skips what the first has written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from jobledger.domain.collector import collector_paused
from jobledger.domain.events import DomainEvent, Submitted
from jobledger.domain.job import Job, evolve
from jobledger.projections import job_logs
from jobledger.projections.activity import RunFacts
from jobledger.projections.bulk import BulkFold
from jobledger.projections.database import ASIDE, QUARANTINE, ViewsDatabase
from jobledger.projections.views import UNNAMED, VIEWS, Key, View
from jobledger.projections.writer import open_writer
from jobledger.store.reader import EventReader, Page, Undecodable

BATCH_SIZE = 2000
# A catch-up with at least this many events to fold, and at least half of the whole store (the
# bulk path reads every event from the first), takes the bulk path (a blue/green rebuild): a new
# reader node's first query then folds at rebuild speed.
BULK_CATCH_UP_AT = 50_000
REBUILD_BATCH_SIZE = 10_000
CACHE_LIMIT = 200_000
REBUILD_SUFFIX = ASIDE

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ViewStatus:
    """Where one view stands."""

    view: str
    position: int
    lag: int
    rows: int


@dataclass(frozen=True)
class Difference:
    """A row where a live view and a fresh fold disagree (None: the row is missing there)."""

    view: str
    key: Key
    live: dict[str, Any] | None
    rebuilt: dict[str, Any] | None


class Projector:
    """Folds the ledger's events, read through the store's reader port, into the views database."""

    def __init__(self, reader: EventReader, views: ViewsDatabase) -> None:
        self.reader = reader
        self.db = views
        self.db.ensure_views()
        # Rows this projector wrote, per table, valid at the position noted beside them; dropped
        # whenever another writer has moved that table on.
        self._cache: dict[str, dict[Key, Any]] = {}
        self._cached_at: dict[str, int] = {}
        # (job handle, company) by run id as hex: they never change once submitted.
        self._names: dict[str, tuple[str, str]] = {}

    # --- reading the store -------------------------------------------------------------------

    def head(self) -> int:
        """Position of the last event in the store."""
        return self.reader.head()

    def _pages(self, after: int, stop: int, size: int | None = None) -> Iterator[Page]:
        """Pages of (position, originator id as hex, event) after a position, up to `stop`; the
        events that do not decode are set aside in each page's `undecodable`."""
        return self.reader.pages(after, stop, size=size or BATCH_SIZE)

    def events(self, after: int = 0, stop: int | None = None) -> Iterator[tuple[int, DomainEvent]]:
        """(position, event) in global order after a position, up to `stop` (default: the head)."""
        for page in self._pages(after, self.head() if stop is None else stop):
            for position, _, event in page:
                yield position, event

    # --- catching up -------------------------------------------------------------------------

    def catch_up(
        self,
        tables: dict[str, View] | None = None,
        *,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
        batch_size: int | None = None,
    ) -> int:
        """Fold every event after each table's position into it; return how many were read.
        Far behind (see BULK_CATCH_UP_AT), the live views are rebuilt instead."""
        live = tables is None
        tables = tables or dict(VIEWS)
        head = self.head()
        start = min(self.db.positions(tables).values())
        if start >= head:
            return 0
        if live and head - start >= BULK_CATCH_UP_AT and head - start >= head // 2:
            return self.rebuild(progress=_from(start, progress))
        read = 0
        for batch in self._pages(start, head, batch_size):
            with collector_paused(len(batch)):
                # Folded before the write lock is taken: a writer of the same file (the ledger's,
                # when the views live in it) then waits for the writes only, not for the folding.
                with self.db.reading():
                    positions = self.db.positions(tables)
                    folded = self._fold_batch(tables, batch, positions)
                with self.db.writing():
                    now = self.db.positions(tables)
                    if now != positions:  # another process moved these views on meanwhile
                        folded = self._fold_batch(tables, batch, now)
                    self._write_batch(tables, batch, folded)
            read += len(batch) + len(batch.undecodable)
            if progress is not None:
                progress(len(batch) + len(batch.undecodable))
            if stop is not None and stop.is_set():
                break
        return read

    def _apply_batch(self, tables: dict[str, View], batch: Page) -> None:
        """Fold a batch into the tables and write it (inside the caller's write transaction)."""
        self._write_batch(tables, batch, self._fold_batch(tables, batch, self.db.positions(tables)))

    def _fold_batch(
        self, tables: dict[str, View], batch: Page, positions: dict[str, int]
    ) -> dict[str, dict[Key, Any]]:
        """The rows the batch changes in each table it moves on, folded from the rows at `positions`."""
        end = batch.end
        classes = [type(event) for _, _, event in batch]
        folded: dict[str, dict[Key, Any]] = {}
        for table, view in tables.items():
            position = positions[table]
            if end <= position:
                continue
            if view.named is not None:
                folded[table] = self._named_rows(view, batch, position, tables)
                continue
            if view.run_aware:
                folded[table] = self._fold_run_aware(view, table, batch, position, tables, folded)
                continue
            cache = self._cache.setdefault(table, {})
            if self._cached_at.get(table) != position:
                cache.clear()
            key_of = view.key
            relevant = {cls: issubclass(cls, view.events) for cls in set(classes)}
            todo = [
                (key, event)
                for (nid, hexid, event), cls in zip(batch, classes, strict=True)
                if relevant[cls] and nid > position and (key := key_of(event, hexid))
            ]
            if view.folds_rows:
                missing = list({key for key, _ in todo if key not in cache})
                if missing:
                    cache.update(self.db.load(view, table, missing))
            changed: dict[Key, Any] = {}
            for key, event in todo:
                row = changed[key] if key in changed else cache.get(key)
                changed[key] = view.apply(row, event)
            folded[table] = changed
        return folded

    def _write_batch(self, tables: dict[str, View], batch: Page, folded: dict[str, dict[Key, Any]]) -> None:
        """Write folded rows and move their tables to the batch's end (in a write transaction)."""
        end = batch.end
        if batch.undecodable:
            # Passed without folding, and recorded in the transaction that moves the positions on.
            self.db.quarantine(batch.undecodable)
        for table, changed in folded.items():
            view = tables[table]
            self.db.write(view, table, changed)
            self.db.set_position(table, end)
            if view.folds_rows:
                cache = self._cache.setdefault(table, {})
                if len(cache) > CACHE_LIMIT:
                    cache.clear()
                cache.update(changed)
                self._cached_at[table] = end

    def _named_rows(self, view: View, batch: Page, position: int, tables: dict[str, View]) -> dict[Key, Any]:
        """The rows of a view whose rows name their run (detail rows: written once)."""
        assert view.named is not None and not view.folds_rows
        named, key_of, events = view.named, view.key, view.events
        todo = [
            (key, hexid, event)
            for nid, hexid, event in batch
            if nid > position and isinstance(event, events) and (key := key_of(event, hexid))
        ]
        names = self._run_names(batch, {hexid for _, hexid, _ in todo}, tables)
        return {key: named(event, *names.get(hexid, UNNAMED)) for key, hexid, event in todo}

    def _fold_run_aware(
        self,
        view: View,
        table: str,
        batch: Page,
        position: int,
        tables: dict[str, View],
        folded: dict[str, dict[Key, Any]],
    ) -> dict[Key, Any]:
        """The rows of a view whose rows depend on facts of each event's run (its company, its
        outcome once Done): from the job_logs rows this batch folded (that view comes first), or
        for runs it did not touch, the stored ones (a company never changes, an outcome once set
        neither)."""
        todo = [
            (hexid, event) for nid, hexid, event in batch if nid > position and isinstance(event, view.events)
        ]
        if not todo:
            return {}
        logs = next(name for name, other in tables.items() if other.name == job_logs.NAME)
        facts: dict[str, RunFacts] = {}
        for (hexid,), job in folded.get(logs, {}).items():
            if job is not None:
                facts[hexid] = RunFacts.of(job)
        missing = list({hexid for hexid, _ in todo if hexid not in facts})
        if missing:
            for hexid, (company, outcome) in self.db.run_facts(logs, missing).items():
                facts[hexid] = RunFacts(company, outcome)  # type: ignore[arg-type]  # an Outcome, as stored
        keyed = [
            (key, event, facts[hexid]) for hexid, event in todo if (key := view.key(event, facts.get(hexid)))
        ]
        changed: dict[Key, Any] = self.db.load(view, table, list({key for key, _, _ in keyed}))
        for key, event, fact in keyed:
            changed[key] = view.apply(changed.get(key), event, fact)
        return changed

    def _run_names(self, batch: Page, runs: set[str], tables: dict[str, View]) -> dict[str, tuple[str, str]]:
        """(job handle, company) of these runs: from their Submitted in this batch, or from the
        job_logs rows written before (a run whose Submitted was quarantined has none)."""
        known = self._names
        if len(known) > CACHE_LIMIT:
            known.clear()
        for _, hexid, event in batch:
            if type(event) is Submitted:
                known[hexid] = (event.jobHandle, event.companyHandle)
        missing = [hexid for hexid in runs if hexid not in known]
        if missing:
            logs = next(
                (table for table, view in tables.items() if view.name == job_logs.NAME), job_logs.NAME
            )
            known.update(self.db.run_names(logs, missing))
        return known

    def run(self, interval: float, stop: threading.Event, on_batch: Progress | None = None) -> None:
        """Catch up, then poll every `interval` seconds until `stop` is set."""
        while not stop.is_set():
            self.catch_up(progress=on_batch, stop=stop)
            stop.wait(interval)

    # --- status ------------------------------------------------------------------------------

    def position(self) -> int:
        """Where every view stands: the position of the furthest behind."""
        return min(self.db.positions(VIEWS).values())

    def lag(self) -> int:
        """How many positions the furthest-behind view trails the store by."""
        return max(self.head() - self.position(), 0)

    def status(self) -> list[ViewStatus]:
        """Position, lag behind the store, and row count of every view."""
        head = self.head()
        positions = self.db.positions(VIEWS)
        return [
            ViewStatus(name, positions[name], max(head - positions[name], 0), self.db.count(name))
            for name in VIEWS
        ]

    def quarantined(self) -> list[Undecodable]:
        """The stored events the views passed without folding (they do not decode)."""
        return self.db.quarantined()

    # --- rebuild -----------------------------------------------------------------------------

    def rebuild(self, names: Iterable[str] | None = None, *, progress: Progress | None = None) -> int:
        """Blue/green: fold from position 0 into new tables, then swap them in at once."""
        wanted = set(names or VIEWS)
        if any(VIEWS[name].run_aware for name in wanted):
            # A run-aware view reads its runs' facts from the job_logs rows folded before it.
            wanted.add(job_logs.NAME)
        chosen = {name: view for name, view in VIEWS.items() if name in wanted}
        # What a killed rebuild (or bulk catch-up) left behind would otherwise stay for good.
        self.db.drop_abandoned()
        # Names of our own, so that two rebuilds at once never build into each other's tables.
        aside = {self.db.aside_name(name): view for name, view in chosen.items()}
        for table, view in aside.items():
            # The secondary indexes are built once the rows are in: faster than keeping them up
            # to date row by row (the key is the table's primary key).
            self.db.create_table(view, table, indexes=False)
        head = self.head()
        undecodable: list[Undecodable] = []
        read = self._fold_aside(aside, head, progress, undecodable)
        with self.db.writing():
            # Events appended while we rebuilt are folded in under the same lock as the swap.
            for batch in self._pages(head, self.head()):
                self._apply_batch(aside, batch)
                undecodable.extend(batch.undecodable)
                read += len(batch) + len(batch.undecodable)
            # A rebuild of every view starts the quarantine afresh: an event repaired since is
            # folded now and no longer listed.
            self.db.quarantine(undecodable, replace=len(chosen) == len(VIEWS))
            for table, view in aside.items():
                self.db.rename_table(table, view.name)
                # The rebuilt rows now serve under the live name.
                self._cache[view.name] = self._cache.pop(table, {})
                if table in self._cached_at:
                    self._cached_at[view.name] = self._cached_at.pop(table)
        return read

    def _fold_aside(
        self, aside: dict[str, View], head: int, progress: Progress | None, undecodable: list[Undecodable]
    ) -> int:
        """Fold every event up to `head` into the new tables, then index them; they are at `head`.
        The events that do not decode are added to `undecodable`."""
        fold = BulkFold(aside)
        read = 0
        writer = open_writer(self.db, aside, head)
        try:
            with collector_paused(head):
                for page in self._pages(0, head, REBUILD_BATCH_SIZE):
                    writer.write(fold.fold(page))
                    undecodable.extend(page.undecodable)
                    read += len(page) + len(page.undecodable)
                    if progress is not None:
                        progress(len(page) + len(page.undecodable))
                writer.write(fold.rest())
            writer.finish(head)
        finally:
            writer.close()
        return read

    # --- verify ------------------------------------------------------------------------------

    def _verify_quarantine(self, quarantined: list[Undecodable], upto: int) -> list[Difference]:
        """The quarantine as recorded against the events that do not decode now, up to `upto`."""
        live = {u.position: u for u in quarantined if u.position <= upto}
        fresh = {u.position: u for page in self._pages(0, upto) for u in page.undecodable}
        return [
            Difference(
                view=QUARANTINE,
                key=(position,),
                live=live[position]._asdict() if position in live else None,
                rebuilt=fresh[position]._asdict() if position in fresh else None,
            )
            for position in sorted(set(live) | set(fresh))
            if live.get(position) != fresh.get(position)
        ]

    def verify(self, limit: int = 5) -> list[Difference]:
        """Fold every event afresh in memory and compare with the live views."""
        self.catch_up()
        with self.db.reading():
            positions = self.db.positions(VIEWS)
            live = {name: self.db.rows(name) for name in VIEWS}
            quarantined = self.db.quarantined()
        differences = self._verify_quarantine(quarantined, min(positions.values()))
        for name, view in VIEWS.items():
            rebuilt = fold_view(view, self.events(0, positions[name]))
            stored = {view.row_key(values): values for values in live[name]}
            for key in sorted(set(stored) | set(rebuilt), key=repr):
                expected = view.codec.encode(rebuilt[key]) if key in rebuilt else None
                actual = tuple(stored[key]) if key in stored else None
                if expected != actual:
                    differences.append(
                        Difference(
                            view=name,
                            key=key,
                            live=view.codec.to_dict(actual) if actual else None,
                            rebuilt=view.codec.to_dict(expected) if expected else None,
                        )
                    )
                    if sum(d.view == name for d in differences) >= limit:
                        break
        return differences


def _from(start: int, progress: Progress | None) -> Progress | None:
    """A rebuild's progress reported as a catch-up's: the first `start` events were folded before."""
    if progress is None or start == 0:
        return progress
    skip = start

    def advance(count: int) -> None:
        nonlocal skip
        passed = min(skip, count)
        skip -= passed
        if count > passed:
            progress(count - passed)

    return advance


def fold_view(view: View, events: Iterable[tuple[int, DomainEvent]]) -> dict[Key, Any]:
    """A view's rows from a plain fold of events, without any database."""
    if view.run_aware:
        return _fold_run_aware(view, events)
    rows: dict[Key, Any] = {}
    names: dict[UUID, tuple[str, str]] = {}
    for _, event in events:
        if view.named is not None and type(event) is Submitted:
            names[event.originator_id] = (event.jobHandle, event.companyHandle)
        key = view.key(event, None)
        if key is None:
            continue
        if view.named is not None:
            rows[key] = view.named(event, *names.get(event.originator_id, UNNAMED))
            continue
        row = view.apply(rows.get(key), event)
        if row is None:
            rows.pop(key, None)
        else:
            rows[key] = row
    return rows


def _fold_run_aware(view: View, events: Iterable[tuple[int, DomainEvent]]) -> dict[Key, Any]:
    """A run-aware view's rows from a plain fold, each run's state folded alongside."""
    rows: dict[Key, Any] = {}
    runs: dict[UUID, Job] = {}
    for _, event in events:
        if not isinstance(event, view.events):
            continue
        run = runs.get(event.originator_id)
        if run is None and type(event) is not Submitted:
            continue  # its Submitted was quarantined: the run is not known
        run = runs[event.originator_id] = evolve(event, run)  # type: ignore[arg-type]
        facts = RunFacts.of(run)
        if (key := view.key(event, facts)) is not None:
            rows[key] = view.apply(rows.get(key), event, facts)
    return rows
