"""JobLedger: the application service, and the only place that appends events.

Each command loads the job, decides, and appends the new events in one transaction. The store's
uniqueness of (aggregate id, version) is the optimistic lock: a writer that lost a race reloads
and decides once more, so a rule that the other writer's events broke is reported as that rule.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import count
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, PersistenceError

from .commands import (
    Command,
    Complete,
    Delete,
    JobCommand,
    LogDetail,
    RequestStop,
    Start,
    Submit,
    UpdateProgress,
    decide,
)
from .errors import (
    ConcurrencyError,
    IdempotencyConflictError,
    RuleError,
    StoreError,
    UnknownHandleError,
)
from .events import (
    Counters,
    DomainEvent,
    IdempotencyKeyClaimed,
    JobEvent,
    JobLogDetailAux,
    TaskProgress,
)
from .handles import idempotency_id, job_id, run_handle, run_name
from .model import Job, check_submission, check_text, decide_submit, evolve, fold
from .payloads import AnyPayload, job_type, payload_kind
from .persistence import (
    describe_store_failure,
    ensure_postgres_schema,
    is_postgres_url,
    store_env,
)

CACHE_SIZE = 4096
MAX_NAME_COUNTER = 1000


def moment(at: datetime | None) -> datetime:
    """The time of a command: the given time (naive means UTC) or now."""
    if at is None:
        return datetime.now(UTC)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def request_digest(command: Submit) -> str:
    """What makes two submits the same request (everything but the time)."""
    request = msgspec.structs.replace(command, at=None, idempotency_key=None)
    return hashlib.sha256(msgspec.json.encode(request)).hexdigest()


class JobLedger(Application[UUID]):
    """The ledger of jobs: submit and drive runs, read their state and history."""

    name = "JobLedger"

    def __init__(self, db: str = "jobledger.db", *, create: bool = True) -> None:
        env = store_env(db, create=create)
        if is_postgres_url(db):
            ensure_postgres_schema(db)
        try:
            super().__init__(env=env)
        except Exception as err:  # the library raises many kinds while connecting
            raise StoreError(describe_store_failure(db, err)) from None
        self.db = db
        # Recently written jobs, so a runner's next command need not read the store. A stale
        # entry is harmless: its next append conflicts and the job is reloaded.
        self._cache: OrderedDict[UUID, Job] = OrderedDict()

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
        at: datetime | None = None,
    ) -> str:
        """Submit a job to run now; return the new run's handle."""
        command = Submit(
            company=company,
            name=name,
            payload=payload,
            user_email=user_email,
            locale=locale,
            description=description,
            idempotency_key=idempotency_key,
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
    ) -> Job:
        """Delete a job; a live run is stopped first. Its history is kept."""
        return self._one(Delete(handle=handle, requested_by=requested_by, company=company, at=at))

    def record(self, commands: Sequence[Command]) -> list[Job]:
        """Decide a batch of commands in order and append all their events in one transaction.

        Either every command is recorded or, on the first broken rule, none is. Returns the
        job's state after each command.
        """
        for attempt in (1, 2):
            batch = _Batch(self, fresh=attempt == 2)
            results = [batch.apply(index, command) for index, command in enumerate(commands)]
            try:
                self._append(batch.events)
            except IntegrityError:
                # Another writer appended to one of these jobs (or took a handle) meanwhile.
                for uuid in batch.touched:
                    self._cache.pop(uuid, None)
                if attempt == 2:
                    raise ConcurrencyError(
                        "another writer kept changing these jobs; try the command again"
                    ) from None
                continue
            for job in batch.jobs.values():
                self._remember(job)
            return results
        raise AssertionError("unreachable")

    # --- queries -------------------------------------------------------------------------

    def get(self, handle: str, company: str | None = None) -> Job:
        """The current state of a job, read from the store."""
        return self._load(handle, company)

    def history(self, handle: str, company: str | None = None) -> list[JobEvent]:
        """Every event of a job, in order."""
        events = self._events(job_id(handle))
        job = fold(events)
        if job is None or (company is not None and job.companyHandle != company):
            raise UnknownHandleError(handle, company)
        return events

    def event_count(self) -> int:
        """Position of the last stored event (0 for an empty ledger)."""
        try:
            return int(self.recorder.max_notification_id() or 0)
        except PersistenceError as err:
            raise StoreError(describe_store_failure(self.db, err)) from None

    # --- internals -----------------------------------------------------------------------

    def _one(self, command: Command) -> Job:
        return self.record([command])[0]

    def _events(self, uuid: UUID) -> list[Any]:
        try:
            return list(self.events.get(uuid))
        except PersistenceError as err:
            raise StoreError(describe_store_failure(self.db, err)) from None

    def _load(self, handle: str, company: str | None) -> Job:
        job = fold(self._events(job_id(handle)))
        if job is None or (company is not None and job.companyHandle != company):
            raise UnknownHandleError(handle, company)
        return job

    def _cached_or_load(self, handle: str, company: str | None, *, fresh: bool) -> Job:
        uuid = job_id(handle)
        job = None if fresh else self._cache.get(uuid)
        if job is None:
            return self._load(handle, company)
        if company is not None and job.companyHandle != company:
            raise UnknownHandleError(handle, company)
        return job

    def _exists(self, handle: str) -> bool:
        return bool(self.recorder.select_events(job_id(handle), limit=1))

    def _claim(self, company: str, key: str) -> IdempotencyKeyClaimed | None:
        events = self._events(idempotency_id(company, key))
        return events[0] if events else None

    def _append(self, events: Sequence[DomainEvent]) -> None:
        if not events:
            return
        to_stored = self.mapper.to_stored_event
        try:
            self.recorder.insert_events([to_stored(event) for event in events])
        except IntegrityError:
            raise
        except PersistenceError as err:
            raise StoreError(describe_store_failure(self.db, err)) from None

    def _remember(self, job: Job) -> None:
        self._cache[job.id] = job
        self._cache.move_to_end(job.id)
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)


class _Batch:
    """The jobs and events of one `record` call, decided before anything is appended."""

    def __init__(self, ledger: JobLedger, *, fresh: bool) -> None:
        self.ledger = ledger
        self.fresh = fresh
        self.jobs: dict[UUID, Job] = {}
        self.events: list[DomainEvent] = []
        self.touched: set[UUID] = set()
        self.claims: dict[UUID, IdempotencyKeyClaimed] = {}

    def apply(self, index: int, command: Command) -> Job:
        at = moment(command.at)
        try:
            if isinstance(command, Submit):
                return self._submit(command, at)
            if isinstance(command, JobCommand):
                return self._command(command, at)
        except RuleError as err:
            if index == 0:
                raise
            raise type(err)(f"command {index + 1} ({type(command).__name__}): {err}") from None
        raise TypeError(f"unknown command {type(command).__name__}")

    def _job(self, handle: str, company: str | None) -> Job:
        uuid = job_id(handle)
        job = self.jobs.get(uuid)
        if job is None:
            job = self.ledger._cached_or_load(handle, company, fresh=self.fresh)
        elif company is not None and job.companyHandle != company:
            raise UnknownHandleError(handle, company)
        return job

    def _command(self, command: JobCommand, at: datetime) -> Job:
        job = self._job(command.handle, command.company)
        new_events = decide(command, job, at)
        for event in new_events:
            job = evolve(event, job)
        self._add(job, new_events)
        return job

    def _add(self, job: Job, new_events: Sequence[DomainEvent]) -> None:
        self.jobs[job.id] = job
        self.touched.add(job.id)
        self.events.extend(new_events)

    def _submit(self, command: Submit, at: datetime) -> Job:
        company = command.company or ""
        payload = check_submission(company, command.name, command.payload, command.user_email, command.locale)
        command = msgspec.structs.replace(command, payload=payload)
        claim_event = None
        if command.idempotency_key is not None:
            check_text("idempotency key", command.idempotency_key)
            digest = request_digest(command)
            claim_id = idempotency_id(company, command.idempotency_key)
            claim = self.claims.get(claim_id) or self.ledger._claim(company, command.idempotency_key)
            if claim is not None:
                if claim.requestDigest != digest:
                    raise IdempotencyConflictError(
                        f"idempotency key {command.idempotency_key!r} was used for a different"
                        f" request (job {claim.jobHandle}); use a new key for a new request"
                    )
                return self.jobs.get(job_id(claim.jobHandle)) or self.ledger._load(claim.jobHandle, company)
        kind = payload_kind(payload)
        for counter in count(1):
            if counter > MAX_NAME_COUNTER:
                raise RuleError(f"too many runs named {command.name!r} in one second")
            name = run_name(command.name, at, counter)
            handle = run_handle(company, name)
            uuid = job_id(handle)
            if uuid not in self.jobs and not self.ledger._exists(handle):
                break
        new_events = decide_submit(
            company=company,
            handle=handle,
            name=name,
            original_name=command.name,
            payload=payload,
            job_type=job_type(kind),
            user_email=command.user_email,
            locale=command.locale,
            description=command.description,
            at=at,
            trigger_time=command.trigger_time,
            schedule_handle=command.schedule_handle,
            follow_on_of=command.follow_on_of,
        )
        job = evolve(new_events[0], None)
        if command.idempotency_key is not None:
            claim_event = IdempotencyKeyClaimed(
                originator_id=claim_id,
                originator_version=1,
                timestamp=at,
                companyHandle=company,
                key=command.idempotency_key,
                jobHandle=handle,
                requestDigest=digest,
            )
            self.claims[claim_id] = claim_event
            self.events.append(claim_event)
        self._add(job, new_events)
        return job
