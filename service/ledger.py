"""JobLedger: the application service, and the only place that appends events.

Each command loads the job, decides, and appends the new events in one transaction. The store's
uniqueness of (aggregate id, version) is the optimistic lock: a writer that lost a race reloads
and decides once more, so a rule that the other writer's events broke is reported as that rule.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from jobledger.domain.aggregates import Aggregate, fold
from jobledger.domain.collector import collector_paused
from jobledger.domain.commands import (
    Command,
    Complete,
    Delete,
    Execute,
    Fire,
    LogDetail,
    Pause,
    RequestStop,
    Resume,
    Start,
    Submit,
    UpdateProgress,
)
from jobledger.domain.decider import Decider
from jobledger.domain.errors import (
    ConcurrencyError,
    RuleError,
    StoreError,
    UndecodableEventError,
    UnknownHandleError,
)
from jobledger.domain.events import (
    Counters,
    DomainEvent,
    IdempotencyKeyClaimed,
    JobLogDetailAux,
    TaskProgress,
)
from jobledger.domain.handles import idempotency_id, job_id
from jobledger.domain.job import Job
from jobledger.domain.payloads import AnyPayload
from jobledger.domain.schedule import Schedule
from jobledger.store.codec import MsgspecMapper
from jobledger.store.config import ensure_postgres_schema, is_postgres_url, store_env, store_identity
from jobledger.store.failures import describe_store_failure, store_failures
from jobledger.store.reader import Stored, StoreReader
from jobledger.store.writer import EventWriter, LostRace

CACHE_SIZE = 4096
FIRE_ATTEMPTS = 5


class JobLedger(Application[UUID]):
    """The ledger of jobs: submit and drive runs, read their state and history."""

    name = "JobLedger"

    def __init__(self, db: str = "jobledger.db", *, create: bool = True) -> None:
        env = store_env(db, create=create)
        new_file = create and _is_new_file(db)
        if is_postgres_url(db) and ensure_postgres_schema(db):
            # The library would re-run its CREATE statements (CREATE OR REPLACE FUNCTION among
            # them) on every open, and concurrent opens then fail with "tuple concurrently updated".
            env["CREATE_TABLE"] = "no"
        for attempt in range(1, 4):
            try:
                super().__init__(env=env)
                break
            except Exception as err:  # the library raises many kinds while connecting
                if attempt < 3 and "concurrently" in str(err):
                    continue  # two processes creating a new ledger's tables at once
                raise StoreError(describe_store_failure(db, err)) from None
        self.db = db
        mapper = self.mapper
        assert isinstance(mapper, MsgspecMapper)
        self._mapper = mapper
        self.reader = StoreReader(db, self.recorder, mapper)
        self._writer = EventWriter(db, self.recorder, mapper)
        if new_file:
            # A new ledger file holds its (empty) view tables from the start, for sqlite3 and
            # Datasette to see before any read command has run. (Imported here: sqlite-utils
            # is no concern of a command that only appends to an existing ledger.)
            from jobledger.projections.database import ViewsDatabase

            views = ViewsDatabase(db, store_identity=store_identity(db))
            views.ensure_views()
            views.close()
        # Recently written jobs, so a runner's next command need not read the store. A stale
        # entry is harmless: its next append conflicts and the job is reloaded.
        self._cache: OrderedDict[str, Aggregate] = OrderedDict()  # by handle: a str caches its hash

    # --- commands ------------------------------------------------------------------------

    def submit(
        self,
        company: str,
        name: str,
        payload: AnyPayload,
        *,
        user_email: str = "",
        locale: str = "",
        description: str = "",
        idempotency_key: str | None = None,
        exec_time: datetime | None = None,
        exec_schedule: str | None = None,
        time_zone: str = "UTC",
        at: datetime | None = None,
    ) -> str:
        """Submit a job; return the new run's handle, or the schedule's with exec_time/exec_schedule."""
        command = Submit(
            company=company,
            name=name,
            payload=payload,
            user_email=user_email,
            locale=locale,
            description=description,
            idempotency_key=idempotency_key,
            exec_time=exec_time,
            exec_schedule=exec_schedule,
            time_zone=time_zone,
            at=at,
        )
        return self.record([command])[0].jobHandle

    def start(
        self,
        handle: str,
        server: str,
        *,
        total_size: int = 0,
        company: str | None = None,
        at: datetime | None = None,
    ) -> Job:
        """Mark a New run as Running on a server."""
        return self._one(Start(handle=handle, server=server, total_size=total_size, company=company, at=at))

    def update_progress(
        self,
        handle: str,
        percent: int,
        *,
        message: str = "",
        tasks: Sequence[TaskProgress] = (),
        server: str | None = None,
        company: str | None = None,
        at: datetime | None = None,
    ) -> Job:
        """Report overall progress (0..100) and per-task progress of a running job."""
        return self._one(
            UpdateProgress(
                handle=handle,
                percent=percent,
                message=message,
                tasks=list(tasks),
                server=server,
                company=company,
                at=at,
            )
        )

    def log_detail(
        self,
        handle: str,
        log_type: str,
        message: str,
        *,
        asset_name: str | None = None,
        asset_type: str | None = None,
        asset_handle: str | None = None,
        aux: Sequence[JobLogDetailAux] = (),
        company: str | None = None,
        at: datetime | None = None,
    ) -> Job:
        """Write one detail row to a live job's log."""
        return self._one(
            LogDetail(
                handle=handle,
                log_type=log_type,
                message=message,
                asset_name=asset_name,
                asset_type=asset_type,
                asset_handle=asset_handle,
                aux=list(aux),
                company=company,
                at=at,
            )
        )

    def request_stop(
        self,
        handle: str,
        *,
        reason: str = "",
        requested_by: str = "",
        company: str | None = None,
        at: datetime | None = None,
    ) -> Job:
        """Ask a New or Running job to stop."""
        return self._one(
            RequestStop(handle=handle, reason=reason, requested_by=requested_by, company=company, at=at)
        )

    def complete(
        self,
        handle: str,
        *,
        fatal: bool = False,
        message: str = "",
        counters: Counters | None = None,
        company: str | None = None,
        at: datetime | None = None,
    ) -> Job:
        """End a running job; counters default to what its detail rows add up to."""
        return self._one(
            Complete(
                handle=handle,
                fatal=fatal,
                message=message,
                counters=counters,
                company=company,
                at=at,
            )
        )

    def delete(
        self,
        handle: str,
        *,
        requested_by: str = "",
        company: str | None = None,
        at: datetime | None = None,
    ) -> Aggregate:
        """Delete a run (a live one is stopped and ended first) or a schedule; history is kept."""
        return self.record([Delete(handle=handle, requested_by=requested_by, company=company, at=at)])[0]

    def pause(
        self, handle: str, *, requested_by: str = "", company: str | None = None, at: datetime | None = None
    ) -> Schedule:
        """Pause a schedule (runs cannot be paused: stop them instead)."""
        return self._schedule(Pause(handle=handle, requested_by=requested_by, company=company, at=at))

    def resume(
        self, handle: str, *, requested_by: str = "", company: str | None = None, at: datetime | None = None
    ) -> Schedule:
        """Resume a paused schedule."""
        return self._schedule(Resume(handle=handle, requested_by=requested_by, company=company, at=at))

    def execute(self, handle: str, *, company: str | None = None, at: datetime | None = None) -> str:
        """Run a schedule's job now; return the new run's handle. The trigger is unchanged."""
        _, batch = self._record_batch([Execute(handle=handle, company=company, at=at)])
        return batch.created_runs[0]

    def fire(self, handle: str, *, at: datetime | None = None) -> str | None:
        """Fire a schedule if it is due at `at`; return the new run's handle, or None if not due.

        Another scheduler firing the same schedule meanwhile is not an error: this call then
        reads the schedule again and fires only what is still due.
        """
        for _ in range(FIRE_ATTEMPTS):
            try:
                _, batch = self._record_batch([Fire(handle=handle, at=at)])
            except ConcurrencyError:
                continue
            return batch.created_runs[0] if batch.created_runs else None
        raise ConcurrencyError(f"schedule {handle} kept changing while it was being fired; tick again")

    def record(self, commands: Sequence[Command]) -> list[Aggregate]:
        """Decide a batch of commands in order and append all their events in one transaction.

        Either every command is recorded or, on the first broken rule, none is. Returns the
        state of the run or schedule after each command.
        """
        with collector_paused(len(commands)):
            return self._record_batch(commands)[0]

    def _record_batch(self, commands: Sequence[Command]) -> tuple[list[Aggregate], Decider]:
        with self._writer.appends(len(commands)) as begin:
            for attempt in (1, 2):
                batch = Decider(_LedgerState(self, fresh=attempt == 2))
                append = begin()
                try:
                    results = []
                    for index, command in enumerate(commands):
                        results.append(batch.decide(index, command))
                        append.feed(batch.events)
                except RuleError:
                    append.abandon()
                    if attempt == 1 and batch.used_cache:
                        # Decided on a cached state another writer may have moved on: read and decide again.
                        for handle in batch.used_cache:
                            self._cache.pop(handle, None)
                        continue
                    raise
                try:
                    append.finish(batch.events)
                except LostRace:
                    # Another writer appended to one of these jobs (or took a handle) meanwhile.
                    for state in batch.states.values():
                        self._cache.pop(state.jobHandle, None)
                    if attempt == 2:
                        raise ConcurrencyError(
                            "another writer kept changing these jobs; try the command again"
                        ) from None
                    continue
                for state in batch.states.values():
                    self._remember(state)
                return results, batch
        raise AssertionError("unreachable")

    # --- queries -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the store's connections (and stop the bulk appender, if one was started)."""
        self._writer.close()
        super().close()

    def get(self, handle: str, company: str | None = None) -> Aggregate:
        """The current state of a run or schedule, read from the store."""
        return self._load(handle, company)

    def get_job(self, handle: str, company: str | None = None) -> Job:
        """The current state of a run."""
        state = self._load(handle, company)
        if not isinstance(state, Job):
            raise RuleError(f"{handle} is a schedule, not a run")
        return state

    def history(self, handle: str, company: str | None = None) -> list[DomainEvent]:
        """Every event of a run or schedule, in order."""
        events = self._events(job_id(handle))
        state = fold(events)
        if state is None or (company is not None and state.companyHandle != company):
            raise UnknownHandleError(handle, company)
        return events

    def state_at(
        self,
        handle: str,
        *,
        as_of: datetime | None = None,
        version: int | None = None,
        company: str | None = None,
    ) -> Aggregate:
        """A run's or schedule's state after its events stamped at or before `as_of`, or after
        its first `version` events."""
        events = self.history(handle, company)
        if version is not None:
            if not 1 <= version <= len(events):
                raise RuleError(f"{handle} has versions 1 to {len(events)}, not {version}")
            events = events[:version]
        if as_of is not None:
            moment = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
            first = events[0].timestamp
            events = [event for event in events if event.timestamp <= moment]
            if not events:
                raise RuleError(
                    f"{handle} did not exist at {moment.isoformat()}; it was created at {first.isoformat()}"
                )
        state = fold(events)
        assert state is not None
        return state

    def shared_reader(self) -> StoreReader:
        """A reader of this ledger's store that keeps the ledger open for as long as it is used."""
        return StoreReader(self.db, self.recorder, self._mapper, owner=self)

    def append_stored(self, records: Sequence[Stored]) -> None:
        """Append already-stored events in one transaction (the batch path of `import`)."""
        self.reader.append_stored(records)

    def event_count(self) -> int:
        """How many events the ledger holds."""
        return self.reader.count()

    def head_position(self) -> int:
        """Position of the last stored event (0 for an empty ledger); see StoreReader.head."""
        return self.reader.head()

    # --- internals -----------------------------------------------------------------------

    def _one(self, command: Command) -> Job:
        state = self.record([command])[0]
        assert isinstance(state, Job)
        return state

    def _schedule(self, command: Command) -> Schedule:
        state = self.record([command])[0]
        assert isinstance(state, Schedule)
        return state

    def _events(self, uuid: UUID) -> list[Any]:
        try:
            with store_failures(self.db):
                return list(self.events.get(uuid))
        except (UndecodableEventError, StoreError):
            # The library's read names no position (and on SQLite cannot read a state changed to
            # text): read again through our own select, which raises naming the position.
            self.reader.check_events_of(uuid)
            raise

    def _load(self, handle: str, company: str | None) -> Aggregate:
        state = fold(self._events(job_id(handle)))
        if state is None or (company is not None and state.companyHandle != company):
            raise UnknownHandleError(handle, company)
        return state

    def _remember(self, state: Aggregate) -> None:
        self._cache[state.jobHandle] = state
        self._cache.move_to_end(state.jobHandle)
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)


def _is_new_file(db: str) -> bool:
    """Whether `db` names an SQLite ledger file not made yet (missing or empty)."""
    if is_postgres_url(db) or db == ":memory:" or db.startswith("file:"):
        return False
    return not os.path.exists(db) or os.path.getsize(db) == 0


class _LedgerState:
    """The state a decision reads: the ledger's cache of recent states, then the store.

    A first attempt decides on cached states and trusts new handles to be free (a read of the
    store costs about 36 us on SQLite, a round trip on PostgreSQL); if either was wrong, the
    append fails on the store's uniqueness and the batch is decided again, fresh, with every
    state read and every new handle checked in the store.
    """

    def __init__(self, ledger: JobLedger, *, fresh: bool) -> None:
        self._ledger = ledger
        self._fresh = fresh

    def cached(self, handle: str) -> Aggregate | None:
        return None if self._fresh else self._ledger._cache.get(handle)

    def load(self, handle: str) -> Aggregate | None:
        return fold(self._ledger._events(job_id(handle)))

    def exists(self, handle: str) -> bool:
        if not self._fresh:
            return handle in self._ledger._cache
        return self._ledger._writer.exists(job_id(handle))

    def claim(self, company: str, key: str) -> IdempotencyKeyClaimed | None:
        events = self._ledger._events(idempotency_id(company, key))
        return events[0] if events else None
