"""Commands: what a caller asks of the ledger, one Struct each, usable singly or in a batch.

`decide` turns a command on an existing job into events by calling the rule it names; Submit is
decided by the ledger itself because choosing a unique handle needs the store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from .events import Counters, JobEvent, JobLogDetailAux, TaskProgress
from .job import (
    Job,
    decide_complete,
    decide_delete,
    decide_log,
    decide_progress,
    decide_start,
    decide_stop,
)
from .limits import MAX_ITEMS, Handle, Name, Text
from .payloads import AnyPayload
from .schedule import (
    NotARunError,
    Schedule,
    ScheduleOnlyError,
    ScheduleRuleError,
    decide_delete_schedule,
    decide_pause,
    decide_resume,
)
from .schedule_events import ScheduleEvent


class Command(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Base of all commands: an optional time (default now, UTC) and company check."""

    at: datetime | None = None
    company: Name | None = None


class JobCommand(Command, frozen=True, kw_only=True):
    """A command on an existing job, named by its handle."""

    handle: Handle


class Submit(Command, frozen=True, kw_only=True):
    """Submit a job: to run now, or with exec_time / exec_schedule as a schedule."""

    name: Name
    payload: AnyPayload
    user_email: Name = ""
    locale: Name = ""
    description: Text = ""
    idempotency_key: Name | None = None
    exec_time: datetime | None = None
    exec_schedule: Name | None = None
    time_zone: Name = "UTC"

    @property
    def schedules(self) -> bool:
        """Whether this submit creates a schedule rather than a run."""
        return self.exec_time is not None or self.exec_schedule is not None


class Start(JobCommand, frozen=True, kw_only=True):
    """Mark a submitted job as running on a server."""

    server: Name
    total_size: int = 0


class UpdateProgress(JobCommand, frozen=True, kw_only=True):
    """Report progress of a running job."""

    percent: int
    message: Text = ""
    tasks: Annotated[list[TaskProgress], msgspec.Meta(max_length=MAX_ITEMS)] = msgspec.field(
        default_factory=list
    )
    server: Name | None = None


class LogDetail(JobCommand, frozen=True, kw_only=True):
    """Write one job-log detail row."""

    log_type: Name
    message: Text
    asset_name: Name | None = None
    asset_type: Name | None = None
    asset_handle: Handle | None = None
    aux: Annotated[list[JobLogDetailAux], msgspec.Meta(max_length=MAX_ITEMS)] = msgspec.field(
        default_factory=list
    )


class RequestStop(JobCommand, frozen=True, kw_only=True):
    """Ask a job to stop."""

    reason: Text = ""
    requested_by: Name = ""


class Complete(JobCommand, frozen=True, kw_only=True):
    """End a running job."""

    fatal: bool = False
    message: Text = ""
    counters: Counters | None = None


class Delete(JobCommand, frozen=True, kw_only=True):
    """Delete a job, stopping it first if it is live."""

    requested_by: Name = ""


class Pause(JobCommand, frozen=True, kw_only=True):
    """Pause a schedule."""

    requested_by: Name = ""


class Resume(JobCommand, frozen=True, kw_only=True):
    """Resume a paused schedule."""

    requested_by: Name = ""


class Execute(JobCommand, frozen=True, kw_only=True):
    """Run a schedule's job now, leaving the trigger as it is."""


class Fire(JobCommand, frozen=True, kw_only=True):
    """Fire a schedule if it is due at `at` (what a scheduler tick does); nothing otherwise."""


def decide(command: JobCommand, job: Job, at: datetime) -> list[JobEvent]:
    """The events a command on an existing run produces, or a RuleError."""
    # The commands a runner sends most come first: each case is an isinstance check.
    match command:
        case LogDetail():
            return decide_log(
                job,
                command.log_type,
                command.message,
                at,
                asset_name=command.asset_name,
                asset_type=command.asset_type,
                asset_handle=command.asset_handle,
                aux=command.aux,
            )
        case UpdateProgress():
            return decide_progress(job, command.percent, command.message, command.tasks, at, command.server)
        case Start():
            return decide_start(job, command.server, command.total_size, at)
        case Complete():
            return decide_complete(job, command.fatal, command.message, command.counters, at)
        case RequestStop():
            return decide_stop(job, command.requested_by, command.reason, at)
        case Delete():
            return decide_delete(job, command.requested_by, at)
        case Pause() | Resume():
            verb = "pause" if isinstance(command, Pause) else "resume"
            where = (
                f"its schedule {job.scheduleHandle}" if job.scheduleHandle else "the schedule that runs it"
            )
            raise ScheduleOnlyError(
                f"cannot {verb} run {job.jobHandle}: {verb} acts on schedules (IPS runs have no paused"
                f" state); stop the run, or {verb} {where}",
                verb=verb,
                run=job.jobHandle,
                schedule=job.scheduleHandle,
            )
        case Execute() | Fire():
            raise ScheduleOnlyError(
                f"cannot execute run {job.jobHandle}: execute acts on schedules; submit the job again",
                verb="execute",
                run=job.jobHandle,
                schedule=job.scheduleHandle,
            )
    raise TypeError(f"unknown command {type(command).__name__}")


_VERBS = {
    "Start": "start",
    "UpdateProgress": "report progress on",
    "LogDetail": "log a detail row on",
    "Complete": "complete",
}


def decide_on_schedule(command: JobCommand, schedule: Schedule, at: datetime) -> list[ScheduleEvent]:
    """The events a pause, resume or delete of a schedule produces; other run commands are refused."""
    match command:
        case Pause():
            return decide_pause(schedule, command.requested_by, at)
        case Resume():
            return decide_resume(schedule, command.requested_by, at)
        case Delete():
            return decide_delete_schedule(schedule, command.requested_by, at)
        case RequestStop():
            raise ScheduleRuleError(
                f"cannot stop schedule {schedule.jobHandle}: stop acts on runs; pause or delete the schedule"
            )
    action = _VERBS.get(type(command).__name__, type(command).__name__.lower())
    raise NotARunError(
        f"cannot {action} {schedule.jobHandle}: it is a schedule, not a run",
        original_name=schedule.originalName,
    )
