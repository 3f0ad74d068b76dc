"""The commands a runner or an operator gives, as methods: shared by JobLedger (which records them
in its store) and jobledger.client.Client (which sends them to `jobledger serve`), so that a runner
switches between the two by changing one line.

Each method builds its domain command; a subclass says how a command is recorded (the hooks at
the end). Arguments are not checked here: the command's validation names a wrong one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple, TypeVar, cast

from jobledger.domain.aggregates import Aggregate
from jobledger.domain.commands import (
    Command,
    Complete,
    Delete,
    Execute,
    LogDetail,
    Pause,
    RequestStop,
    Resume,
    Start,
    Submit,
    UpdateProgress,
)
from jobledger.domain.errors import RuleError
from jobledger.domain.events import Counters, JobLogDetailAux, TaskProgress
from jobledger.domain.job import Job
from jobledger.domain.payloads import AnyPayload
from jobledger.domain.schedule import Schedule
from jobledger.domain.validation import validate_state_at

T = TypeVar("T")
When = datetime | str | None  # a datetime (naive means UTC), an ISO 8601 string, or None for now


class Submission(NamedTuple):
    """What `submit_job` returns: the handle, and whether an earlier submit with the key made it."""

    handle: str
    replayed: bool


class Commands(ABC):
    """submit, start, update_progress, log_detail, stop, complete, delete, pause, resume, execute."""

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
        exec_time: When = None,
        exec_schedule: str | None = None,
        time_zone: str = "UTC",
        at: When = None,
    ) -> str:
        """Submit a job; return the new run's handle, or the schedule's with exec_time/exec_schedule."""
        return self.submit_job(
            company,
            name,
            payload,
            user_email=user_email,
            locale=locale,
            description=description,
            idempotency_key=idempotency_key,
            exec_time=exec_time,
            exec_schedule=exec_schedule,
            time_zone=time_zone,
            at=at,
        ).handle

    def submit_job(
        self,
        company: str,
        name: str,
        payload: AnyPayload,
        *,
        user_email: str = "",
        locale: str = "",
        description: str = "",
        idempotency_key: str | None = None,
        exec_time: When = None,
        exec_schedule: str | None = None,
        time_zone: str = "UTC",
        at: When = None,
    ) -> Submission:
        """Submit a job like `submit`; also say whether it was a replay of an earlier idempotent submit."""
        command = Submit(
            company=company,
            name=name,
            payload=payload,
            user_email=user_email,
            locale=locale,
            description=description,
            idempotency_key=idempotency_key,
            exec_time=_when(exec_time),
            exec_schedule=exec_schedule,
            time_zone=time_zone,
            at=_when(at),
        )
        return self._submit(command)

    def start(
        self,
        handle: str,
        server: str,
        *,
        total_size: int = 0,
        company: str | None = None,
        at: When = None,
    ) -> Job:
        """Mark a New run as Running on a server."""
        return self._one(
            Start(handle=handle, server=server, total_size=total_size, company=company, at=_when(at))
        )

    def update_progress(
        self,
        handle: str,
        percent: int,
        *,
        message: str = "",
        tasks: Sequence[TaskProgress] = (),
        server: str | None = None,
        company: str | None = None,
        at: When = None,
    ) -> Job:
        """Report overall progress (0..100) and per-task progress of a running job."""
        return self._one(
            UpdateProgress(
                handle=handle,
                percent=percent,
                message=message,
                tasks=_listed(tasks),
                server=server,
                company=company,
                at=_when(at),
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
        at: When = None,
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
                aux=_listed(aux),
                company=company,
                at=_when(at),
            )
        )

    def stop(
        self,
        handle: str,
        *,
        reason: str = "",
        requested_by: str = "",
        company: str | None = None,
        at: When = None,
    ) -> Job:
        """Ask a New or Running job to stop (the CLI's `stop`; `request_stop` is the same)."""
        return self.request_stop(handle, reason=reason, requested_by=requested_by, company=company, at=at)

    def request_stop(
        self,
        handle: str,
        *,
        reason: str = "",
        requested_by: str = "",
        company: str | None = None,
        at: When = None,
    ) -> Job:
        """Ask a New or Running job to stop."""
        return self._one(
            RequestStop(
                handle=handle, reason=reason, requested_by=requested_by, company=company, at=_when(at)
            )
        )

    def complete(
        self,
        handle: str,
        *,
        fatal: bool = False,
        message: str = "",
        counters: Counters | None = None,
        company: str | None = None,
        at: When = None,
    ) -> Job:
        """End a running job; counters default to what its detail rows add up to."""
        return self._one(
            Complete(
                handle=handle,
                fatal=fatal,
                message=message,
                counters=counters,
                company=company,
                at=_when(at),
            )
        )

    def delete(
        self,
        handle: str,
        *,
        requested_by: str = "",
        company: str | None = None,
        at: When = None,
    ) -> Aggregate:
        """Delete a run (a live one is stopped and ended first) or a schedule; history is kept."""
        return self._any(Delete(handle=handle, requested_by=requested_by, company=company, at=_when(at)))

    def pause(
        self, handle: str, *, requested_by: str = "", company: str | None = None, at: When = None
    ) -> Schedule:
        """Pause a schedule (runs cannot be paused: stop them instead)."""
        return self._schedule(Pause(handle=handle, requested_by=requested_by, company=company, at=_when(at)))

    def resume(
        self, handle: str, *, requested_by: str = "", company: str | None = None, at: When = None
    ) -> Schedule:
        """Resume a paused schedule."""
        return self._schedule(Resume(handle=handle, requested_by=requested_by, company=company, at=_when(at)))

    def execute(self, handle: str, *, company: str | None = None, at: When = None) -> str:
        """Run a schedule's job now; return the new run's handle. The trigger is unchanged."""
        return self._execute(Execute(handle=handle, company=company, at=_when(at)))

    # --- reading a state, alike on a ledger and through a server ----------------------------

    @abstractmethod
    def get(self, handle: str, company: str | None = None) -> Aggregate:
        """The current state of a run or schedule."""

    def get_job(self, handle: str, company: str | None = None) -> Job:
        """The current state of a run."""
        state = self.get(handle, company)
        if not isinstance(state, Job):
            raise RuleError(f"{handle} is a schedule, not a run")
        return state

    def state_at(
        self,
        handle: str,
        *,
        as_of: When = None,
        version: int | None = None,
        company: str | None = None,
    ) -> Aggregate:
        """A run's or schedule's state after its events stamped at or before `as_of` (taken as
        `at` is) and among its first `version` events: either, or both."""
        moment, upto = validate_state_at(as_of, version)
        if moment is None and upto is None:
            return self.get(handle, company)
        return self._state_at(handle, moment, upto, company)

    @abstractmethod
    def _state_at(
        self, handle: str, as_of: datetime | None, version: int | None, company: str | None
    ) -> Aggregate:
        """The state after the events up to `as_of` (aware) and `version`, one of them given."""

    # --- how a command is recorded -----------------------------------------------------------

    @abstractmethod
    def _submit(self, command: Submit) -> Submission:
        """Record a submit: the run's or schedule's handle, and whether it was a replay."""

    @abstractmethod
    def _execute(self, command: Execute) -> str:
        """Record an execute: the new run's handle."""

    @abstractmethod
    def _any(self, command: Command) -> Aggregate:
        """Record a command on a run or a schedule: its state after it."""

    @abstractmethod
    def _one(self, command: Command) -> Job:
        """Record a command on a run: its state after it."""

    @abstractmethod
    def _schedule(self, command: Command) -> Schedule:
        """Record a command on a schedule: its state after it."""


def _listed(rows: Sequence[T]) -> list[T]:
    # A wrong type passes as it is, for validation to name; a tuple becomes the list it stands for.
    return list(rows) if isinstance(rows, (list, tuple)) else cast(list[T], rows)


def _when(at: When) -> datetime | None:
    # An ISO string passes as it is: validation (domain/validation.py) turns it into a datetime
    # or refuses it, in the one place every command goes through.
    return cast(datetime | None, at)
