"""The decider: a batch of commands turned into events against the current state, with no I/O.

Where a submit is decided, a schedule fires, a run is executed, a follow-on publish is created and
an idempotency key is honoured: all here, in one place. The decider reads the state it needs from
a StateSource (the service's store and cache, or a dict in a test) and appends nothing; the
caller appends `events` in one transaction, or discards them.

A decider tracks the state of every run and schedule it touches, so later commands in the batch
see the effects of earlier ones. Runs that a command creates as a side effect (a schedule firing,
a follow-on publish) are part of the same batch, so they exist exactly when the event that caused
them does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Protocol
from uuid import UUID

import msgspec

from .aggregates import Aggregate, fold
from .commands import Command, Complete, Execute, Fire, JobCommand, Submit, decide, decide_on_schedule
from .cron import zone
from .errors import ClockSkewError, IdempotencyConflictError, RuleError, UnknownHandleError
from .events import Completed, DomainEvent, IdempotencyKeyClaimed, JobEvent
from .handles import idempotency_id, run_handle, run_name, schedule_handle
from .job import Job, check_submission, check_text, decide_submit, evolve, follow_on_plan
from .payloads import AnyPayload, job_type, payload_kind
from .schedule import (
    Schedule,
    ScheduleRuleError,
    decide_execute,
    decide_fire,
    decide_schedule,
    is_due,
)
from .schedule_events import ScheduleEvent
from .validation import validate

MAX_NAME_COUNTER = 1000
FOLLOW_ON_PREFIX = "Pub_"


def moment(at: datetime | None) -> datetime:
    """The time of a command: the given time (naive means UTC) or now."""
    if at is None:
        return datetime.now(UTC)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def check_skew(at: datetime, max_skew: timedelta) -> datetime:
    """Refuse a time further ahead of the clock than `max_skew`: one runner with a wrong clock would
    otherwise hold a run (no event may be earlier than its last) or a schedule for everyone.
    Returns the latest time accepted now."""
    now = datetime.now(UTC)
    if at - now > max_skew:
        ahead = (at - now).total_seconds()
        raise ClockSkewError(
            f"time {at.isoformat()} is {ahead:,.0f} s after the ledger's clock"
            f" ({now.isoformat(timespec='seconds')});"
            f" at most {max_skew.total_seconds():,.0f} s ahead is accepted"
        )
    try:
        return now + max_skew
    except OverflowError:  # a tolerance past the calendar: every time is accepted
        return datetime.max.replace(tzinfo=UTC)


def request_digest(command: Submit) -> str:
    """What makes two submits the same request (everything but the time)."""
    request = msgspec.structs.replace(command, at=None, idempotency_key=None)
    return hashlib.sha256(msgspec.json.encode(request)).hexdigest()


def _not_before_last(command: Command, state: Aggregate, now: datetime) -> datetime:
    """A command given no time is stamped now, or at its run's or schedule's last event if that is
    later: another writer's event, or another server's clock running ahead, is no reason to refuse
    it. A time the caller gave is kept, and checked against the rule."""
    last = state.lastEventTime
    if command.at is None and last is not None and last > now:
        return last
    return now


class StateSource(Protocol):
    """Where a decider reads the state it decides on."""

    def cached(self, handle: str) -> Aggregate | None:
        """A state remembered from earlier, which may be stale (None: nothing remembered)."""
        ...

    def load(self, handle: str) -> Aggregate | None:
        """The current state of a run or schedule (None: no such handle)."""
        ...

    def exists(self, handle: str) -> bool:
        """Whether a run or schedule has this handle."""
        ...

    def claim(self, company: str, key: str) -> IdempotencyKeyClaimed | None:
        """The earlier claim of a company's idempotency key, if any."""
        ...


class Decider:
    """The states and events of one batch of commands (one `JobLedger.record` call)."""

    def __init__(
        self,
        source: StateSource,
        *,
        max_skew: timedelta | None = None,
        latest: datetime | None = None,
        name_place: bool = True,
    ) -> None:
        self.source = source
        # Whether an error names the command's place in the batch (not where each command of a
        # group is independent: see JobLedger.record_each).
        self.name_place = name_place
        self.max_skew = max_skew  # how far ahead of the clock a command's `at` may be (None: any)
        # Times up to this one pass without reading the clock again (it only moves on, so a time
        # under the limit when it was read is under it now); a later one reads the clock again.
        # A caller may hand on the limit an earlier batch read (with the same max_skew).
        self.latest = latest
        self.replays: set[int] = set()  # indexes of the submits that replayed an idempotency key
        self.used_cache: set[str] = set()  # handles decided on a cached (maybe stale) state
        self.created_runs: list[str] = []  # runs a schedule fired or executed in this batch
        # By handle: a string's hash is cached, a UUID's is computed in Python on every lookup.
        self.states: dict[str, Aggregate] = {}
        self.events: list[DomainEvent] = []
        self.claims: dict[UUID, IdempotencyKeyClaimed] = {}

    def decide(self, index: int, command: Command, *, validated: bool = False) -> Aggregate:
        """Decide one command (the `index`th of the batch); its events join the batch.

        `validated`: the command is what `validate` returned (validation.validate_batch).
        """
        try:
            if not validated:
                command = validate(command)
            given = command.at
            if given is None:
                at = datetime.now(UTC)
            else:
                at = given if given.tzinfo is not None else given.replace(tzinfo=UTC)
                skew = self.max_skew
                if skew is not None and (self.latest is None or at > self.latest):
                    self.latest = check_skew(at, skew)
            if isinstance(command, Submit):
                return self._submit(index, command, at)
            if isinstance(command, (Execute, Fire)):
                return self._fire(command, at)
            if isinstance(command, JobCommand):
                return self._command(command, at)
        except (RuleError, UnknownHandleError) as err:
            if index == 0 or not self.name_place:
                raise
            # Say which command of the batch broke the rule, keeping the error's type.
            err.args = (f"command {index + 1} ({type(command).__name__}): {err}",)
            raise
        raise TypeError(f"unknown command {type(command).__name__}")

    # --- state -------------------------------------------------------------------------------

    def _state(self, handle: str, company: str | None) -> Aggregate:
        state = self.states.get(handle)
        if state is None:
            state = self.source.cached(handle)
            if state is not None:
                self.used_cache.add(handle)
            else:
                state = self.source.load(handle)
        if state is None or (company is not None and state.companyHandle != company):
            raise UnknownHandleError(handle, company)
        return state

    def _exists(self, handle: str) -> bool:
        return handle in self.states or self.source.exists(handle)

    def _add(self, state: Aggregate, new_events: Sequence[DomainEvent]) -> Aggregate:
        self.states[state.jobHandle] = state
        self.events.extend(new_events)
        return state

    # --- runs and schedules ------------------------------------------------------------------

    def _command(self, command: JobCommand, at: datetime) -> Aggregate:
        target = self._state(command.handle, command.company)
        at = _not_before_last(command, target, at)
        if isinstance(target, Schedule):
            schedule_events = decide_on_schedule(command, target, at)
            return self._add(_folded(target, schedule_events), schedule_events)
        new_events = decide(command, target, at)
        state = target
        for event in new_events:  # a run's own events: `evolve` directly (this runs per command)
            state = evolve(event, state)
        if isinstance(command, Complete):
            new_events, follow_on_events = self._follow_on(state, new_events, at)
            if follow_on_events:
                named = self._add(_folded(target, new_events), new_events)
                # The follow-on run is created in the same transaction, after the event that names it.
                follow_on = evolve(follow_on_events[0], None)
                self._add(follow_on, follow_on_events)
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
    ) -> tuple[Job, list[JobEvent]]:
        """A new run with a free handle and its events; the caller adds them to the batch once the
        command that creates it is decided (a refused command leaves no run behind)."""
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
        return evolve(new_events[0], None), new_events

    def _fire(self, command: Execute | Fire, at: datetime) -> Aggregate:
        target = self._state(command.handle, command.company)
        at = _not_before_last(command, target, at)
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
        )
        if isinstance(command, Fire):
            schedule_events: list[ScheduleEvent] = decide_fire(target, run.jobHandle, at)
        else:
            schedule_events = decide_execute(target, run.jobHandle, at)
        schedule = self._add(_folded(target, schedule_events), schedule_events)
        self._add(run, run_events)  # after the Fired event that names it
        self.created_runs.append(run.jobHandle)
        return schedule

    def _submit(self, index: int, command: Submit, at: datetime) -> Aggregate:
        company = command.company or ""
        payload = check_submission(company, command.name, command.payload, command.user_email, command.locale)
        command = msgspec.structs.replace(command, payload=payload)
        claim_id = digest = None
        if command.idempotency_key is not None:
            check_text("idempotency key", command.idempotency_key)
            digest = request_digest(command)
            claim_id = idempotency_id(company, command.idempotency_key)
            claim = self.claims.get(claim_id) or self.source.claim(company, command.idempotency_key)
            if claim is not None:
                if claim.requestDigest != digest:
                    raise IdempotencyConflictError(
                        f"idempotency key {command.idempotency_key!r} was used for a different"
                        f" request (job {claim.jobHandle}); use a new key for a new request"
                    )
                self.replays.add(index)
                return self._state(claim.jobHandle, company)
        created: Aggregate
        if command.schedules:
            created = self._schedule(command, company, payload, at)
        else:
            zone(command.time_zone)  # (no schedule: the zone changes nothing, but must be one)
            run, run_events = self._new_run(
                company=company,
                original_name=command.name,
                payload=payload,
                user_email=command.user_email,
                locale=command.locale,
                description=command.description,
                at=at,
            )
            created = self._add(run, run_events)
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
        schedule = fold(new_events, previous)
        assert isinstance(schedule, Schedule)
        self._add(schedule, new_events)
        return schedule


def _folded(state: Aggregate, events: Sequence[DomainEvent]) -> Aggregate:
    folded = fold(events, state)
    assert folded is not None
    return folded
