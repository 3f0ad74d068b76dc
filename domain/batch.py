"""One batch of commands, decided against the current state before anything is appended.

A batch tracks the state of every run and schedule it touches, so later commands in the batch
see the effects of earlier ones, and collects the events to append in one transaction. Runs that
a command creates as a side effect (a schedule firing, a follow-on publish) are part of the same
batch, so they exist exactly when the event that caused them does.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from itertools import count
from typing import TYPE_CHECKING, Any, TypeAlias
from uuid import UUID

import msgspec

from .commands import Command, Complete, Execute, Fire, JobCommand, Submit, decide, decide_on_schedule
from .errors import IdempotencyConflictError, RuleError, UnknownHandleError
from .events import Completed, DomainEvent, IdempotencyKeyClaimed, JobEvent
from .handles import idempotency_id, run_handle, run_name, schedule_handle
from .model import Job, check_submission, check_text, decide_submit, evolve, follow_on_plan
from .payloads import AnyPayload, job_type, payload_kind
from .schedule_events import ScheduleEvent
from .schedule_model import (
    Schedule,
    ScheduleRuleError,
    decide_execute,
    decide_fire,
    decide_schedule,
    evolve_schedule,
    is_due,
)

if TYPE_CHECKING:
    from .ledger import JobLedger

Aggregate: TypeAlias = Job | Schedule
LARGE_WORK = 1000
MAX_NAME_COUNTER = 1000
FOLLOW_ON_PREFIX = "Pub_"


def collector_paused(work: int) -> AbstractContextManager[None]:
    """Pause the cyclic garbage collector for a large piece of work (`work` items or more).

    Folding builds many short-lived objects, and collections triggered by them scan everything
    alive; measured on large batches and rebuilds, pausing saved a quarter of the time. Nothing
    here forms reference cycles, and the collector runs again afterwards. Small work (every single
    command) gets a plain null context: a generator-based one cost a few microseconds each time.
    """
    if work < LARGE_WORK or not gc.isenabled():
        return _NOT_PAUSED
    return _paused()


_NOT_PAUSED: AbstractContextManager[None] = nullcontext()  # holds no state: one serves every caller


@contextmanager
def _paused() -> Iterator[None]:
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def moment(at: datetime | None) -> datetime:
    """The time of a command: the given time (naive means UTC) or now."""
    if at is None:
        return datetime.now(UTC)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def request_digest(command: Submit) -> str:
    """What makes two submits the same request (everything but the time)."""
    request = msgspec.structs.replace(command, at=None, idempotency_key=None)
    return hashlib.sha256(msgspec.json.encode(request)).hexdigest()


def _step(event: DomainEvent, state: Any) -> Any:
    if isinstance(event, JobEvent):
        return evolve(event, state)
    if isinstance(event, ScheduleEvent):
        return evolve_schedule(event, state)
    return state  # an idempotency claim is not part of any run or schedule


def fold_any(events: Sequence[DomainEvent]) -> Aggregate | None:
    """The state of a run or a schedule from its events."""
    state: Any = None
    for event in events:
        state = _step(event, state)
    return state  # type: ignore[no-any-return]


def apply_events(state: Aggregate | None, events: Sequence[DomainEvent]) -> Aggregate:
    """State after more events of the same aggregate."""
    result: Any = state
    for event in events:
        result = _step(event, result)
    return result  # type: ignore[no-any-return]


class Batch:
    """The aggregates and events of one `JobLedger.record` call."""

    def __init__(self, ledger: JobLedger, *, fresh: bool) -> None:
        self.ledger = ledger
        self.fresh = fresh
        self.used_cache: set[str] = set()  # handles decided on a cached state
        self.created_runs: list[str] = []  # runs a schedule fired or executed in this batch
        # By handle: a string's hash is cached, a UUID's is computed in Python on every lookup.
        self.states: dict[str, Aggregate] = {}
        self.events: list[DomainEvent] = []
        self.claims: dict[UUID, IdempotencyKeyClaimed] = {}

    def apply(self, index: int, command: Command) -> Aggregate:
        """Decide one command; its events join the batch."""
        at = moment(command.at)
        try:
            if isinstance(command, Submit):
                return self._submit(command, at)
            if isinstance(command, (Execute, Fire)):
                return self._fire(command, at)
            if isinstance(command, JobCommand):
                return self._command(command, at)
        except RuleError as err:
            if index == 0:
                raise
            # Say which command of the batch broke the rule, keeping the error's type.
            err.args = (f"command {index + 1} ({type(command).__name__}): {err}",)
            raise
        raise TypeError(f"unknown command {type(command).__name__}")

    # --- state -------------------------------------------------------------------------------

    def _state(self, handle: str, company: str | None) -> Aggregate:
        state = self.states.get(handle)
        if state is None:
            state, cached = self.ledger._cached_or_load(handle, company, fresh=self.fresh)
            if cached:
                self.used_cache.add(handle)
            return state
        if company is not None and state.companyHandle != company:
            raise UnknownHandleError(handle, company)
        return state

    def _exists(self, handle: str) -> bool:
        if handle in self.states:
            return True
        if not self.fresh:
            # A first attempt trusts new handles to be free (a read of the store costs about 36 us
            # on SQLite, a round trip on PostgreSQL); if one was taken, the append fails on the
            # store's uniqueness and the batch is decided again, fresh, with this check made.
            return handle in self.ledger._cache
        return self.ledger._exists(handle)

    def _add(self, state: Aggregate, new_events: Sequence[DomainEvent]) -> Aggregate:
        self.states[state.jobHandle] = state
        self.events.extend(new_events)
        return state

    # --- runs and schedules ------------------------------------------------------------------

    def _command(self, command: JobCommand, at: datetime) -> Aggregate:
        target = self._state(command.handle, command.company)
        if isinstance(target, Schedule):
            schedule_events = decide_on_schedule(command, target, at)
            return self._add(apply_events(target, schedule_events), schedule_events)
        new_events = decide(command, target, at)
        state = target
        for event in new_events:  # a run's own events: `evolve` directly (this runs per command)
            state = evolve(event, state)
        if isinstance(command, Complete):
            new_events, follow_on_events = self._follow_on(state, new_events, at)
            if follow_on_events:
                named = self._add(apply_events(target, new_events), new_events)
                # The follow-on run is created in the same transaction, after the event that names it.
                self.events.extend(follow_on_events)
                return named
        return self._add(state, new_events)

    def _follow_on(
        self, done: Job, new_events: list[JobEvent], at: datetime
    ) -> tuple[list[JobEvent], list[JobEvent]]:
        """The completion naming its follow-on publish, and the follow-on's own events."""
        plan = follow_on_plan(done)
        if plan is None:
            return new_events, []
        follow_on, follow_on_events = self._new_run(
            company=done.companyHandle,
            original_name=done.originalName,
            payload=plan[1],
            user_email=done.submitUserEmail,
            locale=done.locale,
            description=done.description,
            at=at,
            prefix=FOLLOW_ON_PREFIX,
            follow_on_of=done.jobHandle,
            emit=False,
        )
        completed = new_events[-1]
        assert isinstance(completed, Completed)
        named = msgspec.structs.replace(completed, followOnHandle=follow_on.jobHandle)
        return [*new_events[:-1], named], follow_on_events

    def _free_handle(self, company: str, name: str, at: datetime) -> tuple[str, str]:
        for counter in count(1):
            if counter > MAX_NAME_COUNTER:
                raise RuleError(f"too many runs named {name!r} in one second")
            run = run_name(name, at, counter)
            handle = run_handle(company, run)
            if not self._exists(handle):
                return handle, run
        raise AssertionError("unreachable")

    def _new_run(
        self,
        *,
        company: str,
        original_name: str,
        payload: AnyPayload,
        user_email: str,
        locale: str,
        description: str,
        at: datetime,
        trigger_time: datetime | None = None,
        schedule_handle: str | None = None,
        follow_on_of: str | None = None,
        prefix: str = "",
        emit: bool = True,
    ) -> tuple[Job, list[JobEvent]]:
        """A new run with a free handle; its events join the batch unless `emit` is false."""
        handle, name = self._free_handle(company, prefix + original_name, trigger_time or at)
        new_events = decide_submit(
            company=company,
            handle=handle,
            name=name,
            original_name=original_name,
            payload=payload,
            job_type=job_type(payload_kind(payload)),
            user_email=user_email,
            locale=locale,
            description=description,
            at=at,
            trigger_time=trigger_time,
            schedule_handle=schedule_handle,
            follow_on_of=follow_on_of,
        )
        job = evolve(new_events[0], None)
        self.states[job.jobHandle] = job
        if emit:
            self.events.extend(new_events)
        return job, new_events

    def _fire(self, command: Execute | Fire, at: datetime) -> Aggregate:
        target = self._state(command.handle, command.company)
        if isinstance(target, Job):
            return self._add(target, decide(command, target, at))
        if isinstance(command, Fire) and not is_due(target, at):
            return target
        if target.deleted or target.triggerState == "Complete":
            raise ScheduleRuleError(
                f"cannot execute schedule {target.jobHandle}: it is"
                f" {'deleted' if target.deleted else target.triggerState}"
            )
        fire_time = target.nextFireTime if isinstance(command, Fire) else at
        assert fire_time is not None
        run, run_events = self._new_run(
            company=target.companyHandle,
            original_name=target.originalName,
            payload=target.payload,
            user_email=target.submitUserEmail,
            locale=target.locale,
            description=target.description,
            at=at,
            trigger_time=fire_time,
            schedule_handle=target.jobHandle,
            emit=False,
        )
        if isinstance(command, Fire):
            schedule_events: list[ScheduleEvent] = decide_fire(target, run.jobHandle, at)
        else:
            schedule_events = decide_execute(target, run.jobHandle, at)
        schedule = self._add(apply_events(target, schedule_events), schedule_events)
        self.events.extend(run_events)
        self.created_runs.append(run.jobHandle)
        return schedule

    def _submit(self, command: Submit, at: datetime) -> Aggregate:
        company = command.company or ""
        payload = check_submission(company, command.name, command.payload, command.user_email, command.locale)
        command = msgspec.structs.replace(command, payload=payload)
        claim_id = digest = None
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
                return self.states.get(claim.jobHandle) or self.ledger._load(claim.jobHandle, company)
        created: Aggregate
        if command.schedules:
            created = self._schedule(command, company, payload, at)
        else:
            created, _ = self._new_run(
                company=company,
                original_name=command.name,
                payload=payload,
                user_email=command.user_email,
                locale=command.locale,
                description=command.description,
                at=at,
            )
        if claim_id is not None and digest is not None and command.idempotency_key is not None:
            claim = IdempotencyKeyClaimed(
                originator_id=claim_id,
                originator_version=1,
                timestamp=at,
                companyHandle=company,
                key=command.idempotency_key,
                jobHandle=created.jobHandle,
                requestDigest=digest,
            )
            self.claims[claim_id] = claim
            self.events.append(claim)
        return created

    def _schedule(self, command: Submit, company: str, payload: AnyPayload, at: datetime) -> Schedule:
        handle = schedule_handle(company, command.name)
        previous = None
        if self._exists(handle):
            found = self._state(handle, None)
            if not isinstance(found, Schedule):
                raise RuleError(f"handle {handle} is taken by a run")
            previous = found
        new_events = decide_schedule(
            previous=previous,
            company=company,
            handle=handle,
            name=command.name,
            payload=payload,
            job_type=job_type(payload_kind(payload)),
            user_email=command.user_email,
            locale=command.locale,
            description=command.description,
            exec_time=moment(command.exec_time) if command.exec_time else None,
            exec_schedule=command.exec_schedule,
            time_zone=command.time_zone,
            at=at,
        )
        schedule = apply_events(previous, new_events)
        assert isinstance(schedule, Schedule)
        self._add(schedule, new_events)
        return schedule
