"""The Job aggregate: its state, one pure `evolve` per event, and the decisions that guard its rules.

`evolve` is the only place state changes. The `decide_*` functions check a command against the
current state and return the new events, or raise a RuleError and return nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

import msgspec

from .constants import (
    ASSET_TYPES,
    JOB_SUB_TYPES,
    JobState,
    Outcome,
    canonical_log_type,
    is_transfer_type,
    parse_log_type,
)
from .errors import InvalidTransitionError, InvalidValueError, RuleError
from .events import (
    Completed,
    Counters,
    Deleted,
    DetailLogged,
    JobEvent,
    JobLogDetailAux,
    ProgressUpdated,
    Started,
    StopRequested,
    Submitted,
    TaskProgress,
)
from .handles import job_id
from .limits import MAX_COUNT
from .payloads import OPENING_LOG_TYPES, AnyPayload, follow_on, payload_kind, validate_payload

LIVE_STATES: frozenset[str] = frozenset({"New", "Running", "Stopping"})
_LOCALE = re.compile(r"[a-z]{2}(-[A-Z]{2})?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


class Job(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One run of a job: every IPS ActiveJob and JobLog field, plus what the ledger derives."""

    id: UUID
    version: int
    companyHandle: str
    jobHandle: str
    name: str
    originalName: str
    type: str
    state: JobState
    submitUserEmail: str
    locale: str
    description: str
    payloadKind: str
    payload: AnyPayload
    submitDate: datetime
    serverName: str = ""
    startDate: datetime | None = None
    triggerTime: datetime | None = None
    totalSize: int = 0
    progress: int = 0
    progressMessage: str = ""
    lastProgressUpdate: datetime | None = None
    taskProgressArray: list[TaskProgress] = msgspec.field(default_factory=list)
    jobName: str = ""
    originalJobName: str = ""
    logType: str = ""
    jobSubType: str = ""
    endDate: datetime | None = None
    fileSuccessCount: int = 0
    fileErrorCount: int = 0
    fileWarningCount: int = 0
    fileDuplicateCount: int = 0
    fileUpdateCount: int = 0
    totalFileCount: int = 0
    transferSuccessCount: int = 0
    transferErrorCount: int = 0
    transferWarningCount: int = 0
    fatalError: bool = False
    detailTotalRows: int = 0
    outcome: Outcome | None = None
    stopRequested: bool = False
    stopReason: str = ""
    completionMessage: str = ""
    deleted: bool = False
    scheduleHandle: str | None = None
    followOnOf: str | None = None
    followOnHandle: str | None = None
    lastEventTime: datetime | None = None


# --- evolve ------------------------------------------------------------------------------------


Changes = dict[str, Any]


def evolve(event: JobEvent, job: Job | None) -> Job:
    """The job's state after one more event: the only place a Job changes.

    Every event moves the version and lastEventTime on; what else changes is each event's own rule
    below (a plain dict lookup by type: singledispatch's dispatch was a tenth of a rebuild's time).
    """
    if type(event) is Submitted:
        return _submitted(event)
    assert job is not None, f"{type(event).__name__} before Submitted"
    try:
        changes = _CHANGES[type(event)](event, job)
    except KeyError:
        raise TypeError(f"no evolve rule for {type(event).__name__}") from None
    return msgspec.structs.replace(
        job, version=event.originator_version, lastEventTime=event.timestamp, **changes
    )


def _submitted(event: Submitted) -> Job:
    kind = payload_kind(event.payload)
    sub_type = ""
    if kind == "imageServingPublishJob":
        sub_type = JOB_SUB_TYPES.get(getattr(event.payload, "publishType", ""), "")
    return Job(
        id=event.originator_id,
        version=event.originator_version,
        companyHandle=event.companyHandle,
        jobHandle=event.jobHandle,
        name=event.name,
        originalName=event.originalName,
        type=event.type,
        state="New",
        submitUserEmail=event.submitUserEmail,
        locale=event.locale,
        description=event.description,
        payloadKind=kind,
        payload=event.payload,
        submitDate=event.timestamp,
        triggerTime=event.triggerTime or event.timestamp,
        jobName=event.name,
        originalJobName=event.originalName,
        logType=OPENING_LOG_TYPES.get(event.type, ""),
        jobSubType=sub_type,
        scheduleHandle=event.scheduleHandle,
        followOnOf=event.followOnOf,
        lastEventTime=event.timestamp,
    )


def _started(event: Started, job: Job) -> Changes:
    return {
        "state": "Running",
        "serverName": event.serverName,
        "startDate": event.startDate,
        "totalSize": event.totalSize,
    }


def _progress_updated(event: ProgressUpdated, job: Job) -> Changes:
    return {
        "progress": event.progress,
        "progressMessage": event.progressMessage,
        "lastProgressUpdate": event.timestamp,
        "taskProgressArray": event.taskProgressArray,
    }


_FILE_COUNTERS = (
    ("Success", "fileSuccessCount"),
    ("Error", "fileErrorCount"),
    ("Failure", "fileErrorCount"),
    ("Warning", "fileWarningCount"),
)
_TRANSFER_COUNTERS = (
    ("Success", "transferSuccessCount"),
    ("Error", "transferErrorCount"),
    ("Warning", "transferWarningCount"),
)
_EXACT_COUNTERS = {"DuplicateSkipped": "fileDuplicateCount", "FileUpdated": "fileUpdateCount"}


@lru_cache(maxsize=4096)
def counter_field(log_type: str) -> str | None:
    """The JobLog counter a detail row of this type adds one to, if any (rules in the README)."""
    kind = canonical_log_type(log_type)
    if kind.startswith(("Begin", "End")) or kind == "FatalError":
        return None
    if kind in _EXACT_COUNTERS:
        return _EXACT_COUNTERS[kind]
    for suffix, field in _TRANSFER_COUNTERS if is_transfer_type(kind) else _FILE_COUNTERS:
        if kind.endswith(suffix):
            return field
    return None


@lru_cache(maxsize=4096)
def _is_fatal(log_type: str) -> bool:
    return canonical_log_type(log_type) == "FatalError"


def _detail_logged(event: DetailLogged, job: Job) -> Changes:
    changes: Changes = {"detailTotalRows": job.detailTotalRows + 1}
    field = counter_field(event.logType)
    if field is not None:
        changes[field] = getattr(job, field) + 1
        if field.startswith("file"):
            changes["totalFileCount"] = job.totalFileCount + 1
    if _is_fatal(event.logType):
        changes["fatalError"] = True
    if event.logType.startswith("Begin") and job.detailTotalRows == 0:
        changes["logType"] = event.logType
    return changes


def _stop_requested(event: StopRequested, job: Job) -> Changes:
    return {"state": "Stopping", "stopRequested": True, "stopReason": event.reason}


def _completed(event: Completed, job: Job) -> Changes:
    changes: Changes = msgspec.structs.asdict(event.counters) if event.counters else {}
    changes.update(
        state="Done",
        endDate=event.endDate,
        fatalError=job.fatalError or event.fatalError,
        completionMessage=event.message,
        followOnHandle=event.followOnHandle,
    )
    changes["outcome"] = derive_outcome(msgspec.structs.replace(job, **changes))
    return changes


def _deleted(event: Deleted, job: Job) -> Changes:
    return {"deleted": True}


_CHANGES: dict[type, Callable[[Any, Job], Changes]] = {
    Started: _started,
    ProgressUpdated: _progress_updated,
    DetailLogged: _detail_logged,
    StopRequested: _stop_requested,
    Completed: _completed,
    Deleted: _deleted,
}


def derive_outcome(job: Job) -> Outcome:
    """Outcome of a Done run, in the order DESIGN.md gives: fatal, stopped, errors, warnings."""
    if job.fatalError:
        return "fatal"
    if job.stopRequested:
        return "stopped"
    if job.fileErrorCount or job.transferErrorCount:
        return "errors"
    if job.fileWarningCount or job.transferWarningCount:
        return "warnings"
    return "success"


def follow_on_plan(job: Job) -> tuple[str, AnyPayload] | None:
    """The follow-on publish a Done run starts: (kind, payload), or None.

    Only a run that ended without a fatal error and was not stopped starts one; with
    postJobOnlyIfFiles, only if it processed files (a success or an update was logged).
    """
    plan = follow_on(job.payload)
    if plan is None or job.state != "Done" or job.outcome in ("fatal", "stopped") or job.deleted:
        return None
    if getattr(job.payload, "postJobOnlyIfFiles", False) and not (
        job.fileSuccessCount or job.fileUpdateCount
    ):
        return None
    return plan[0], plan[1]  # type: ignore[return-value]


# --- decide ------------------------------------------------------------------------------------


def _check_time(job: Job, at: datetime) -> None:
    # Events of one job keep their order in time, so that "as of T" answers are well defined.
    if job.lastEventTime is not None and at < job.lastEventTime:
        raise RuleError(
            f"time {at.isoformat()} is before the last event of job {job.jobHandle}"
            f" ({job.lastEventTime.isoformat()})"
        )


def _check_live(job: Job, action: str) -> None:
    if job.deleted:
        raise InvalidTransitionError(job.jobHandle, "deleted", action)
    if job.state == "Done":
        raise InvalidTransitionError(job.jobHandle, "Done", action, "a finished run never changes")


def check_text(label: str, value: str, *, required: bool = True) -> str:
    """Refuse empty names and the separator that handles are built with."""
    if required and not value.strip():
        raise InvalidValueError(f"{label} must not be empty")
    if "|" in value:
        raise InvalidValueError(f"{label} must not contain '|' (it separates the parts of a handle)")
    return value


def check_submission(
    company: str, name: str, payload: AnyPayload, user_email: str, locale: str
) -> AnyPayload:
    """Validate everything a submit carries; return the payload as validated."""
    check_text("company", company)
    check_text("job name", name)
    if locale and not _LOCALE.fullmatch(locale):
        raise InvalidValueError(f"locale {locale!r} is not of the form ll or ll-CC (for example en or en-US)")
    if user_email and not _EMAIL.fullmatch(user_email):
        raise InvalidValueError(f"user email {user_email!r} is not an email address")
    return validate_payload(payload)


def decide_submit(
    *,
    company: str,
    handle: str,
    name: str,
    original_name: str,
    payload: AnyPayload,
    job_type: str,
    user_email: str,
    locale: str,
    description: str,
    at: datetime,
    trigger_time: datetime | None = None,
    schedule_handle: str | None = None,
    follow_on_of: str | None = None,
) -> list[JobEvent]:
    """The first event of a new run."""
    return [
        Submitted(
            originator_id=job_id(handle),
            originator_version=1,
            timestamp=at,
            companyHandle=company,
            jobHandle=handle,
            name=name,
            originalName=original_name,
            type=job_type,
            payload=payload,
            submitUserEmail=user_email,
            locale=locale,
            description=description,
            triggerTime=trigger_time,
            scheduleHandle=schedule_handle,
            followOnOf=follow_on_of,
        )
    ]


def decide_start(job: Job, server: str, total_size: int, at: datetime) -> list[JobEvent]:
    """Start a New run on a server."""
    _check_live(job, "start")
    if job.state != "New":
        raise InvalidTransitionError(job.jobHandle, job.state, "start", "a run starts only once")
    if not server.strip():
        raise InvalidValueError("server name must not be empty")
    if not 0 <= total_size <= MAX_COUNT:
        raise InvalidValueError(f"total size must be 0 or more and at most {MAX_COUNT}, got {total_size}")
    _check_time(job, at)
    return [
        Started(
            originator_id=job.id,
            originator_version=job.version + 1,
            timestamp=at,
            serverName=server,
            startDate=at,
            totalSize=total_size,
        )
    ]


def decide_progress(
    job: Job,
    percent: int,
    message: str,
    tasks: Sequence[TaskProgress],
    at: datetime,
    server: str | None = None,
) -> list[JobEvent]:
    """Report progress of a running job."""
    if not 0 <= percent <= 100:  # (a value no state could take: said first, whatever the state)
        raise InvalidValueError(f"progress must be between 0 and 100, got {percent}")
    _check_live(job, "report progress on")
    if job.state == "New":
        raise InvalidTransitionError(job.jobHandle, "New", "report progress on", "start it first")
    # The rows were checked against their schema with the command (domain/validation.py).
    checked = [
        task if task.lastProgressUpdate is not None else msgspec.structs.replace(task, lastProgressUpdate=at)
        for task in tasks
    ]
    for task in checked:  # every row has a time now; naive ones (rare) become UTC
        if task.taskItemProgressArray or task.lastProgressUpdate.tzinfo is None:  # type: ignore[union-attr]
            checked = [_utc_task(task) for task in checked]
            break
    _check_time(job, at)
    return [
        ProgressUpdated(
            originator_id=job.id,
            originator_version=job.version + 1,
            timestamp=at,
            progress=percent,
            progressMessage=message,
            taskProgressArray=checked,
            serverName=server or job.serverName or None,
        )
    ]


def _utc(moment: datetime | None) -> datetime | None:
    # A time without a zone is UTC, in rows as in `at`: stored rows then all carry their zone.
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _naive_task(task: TaskProgress) -> bool:
    times = [task.lastProgressUpdate, *(item.lastProgressUpdate for item in task.taskItemProgressArray)]
    return any(moment is not None and moment.tzinfo is None for moment in times)


def _utc_task(task: TaskProgress) -> TaskProgress:
    if not _naive_task(task):
        return task
    items = [
        msgspec.structs.replace(item, lastProgressUpdate=_utc(item.lastProgressUpdate))
        for item in task.taskItemProgressArray
    ]
    return msgspec.structs.replace(
        task, lastProgressUpdate=_utc(task.lastProgressUpdate), taskItemProgressArray=items
    )


def decide_log(
    job: Job,
    log_type: str,
    message: str,
    at: datetime,
    *,
    asset_name: str | None = None,
    asset_type: str | None = None,
    asset_handle: str | None = None,
    aux: Sequence[JobLogDetailAux] = (),
) -> list[JobEvent]:
    """Write one detail row to a live job's log."""
    _check_live(job, "log a detail row on")
    known = parse_log_type(log_type)
    if known is None:
        raise InvalidValueError(f"unknown log type {log_type!r}; see the Job Log Types in the README")
    if asset_type is not None and asset_type not in ASSET_TYPES:
        raise InvalidValueError(f"unknown asset type {asset_type!r}; see the Job Log File Types")
    rows: list[JobLogDetailAux] = []
    for row in aux:
        if parse_log_type(row.logType) is None:
            raise InvalidValueError(f"unknown log type {row.logType!r} in an aux row")
        if row.dateCreated is not None and row.dateCreated.tzinfo is None:
            row = msgspec.structs.replace(row, dateCreated=_utc(row.dateCreated))
        rows.append(row)
    _check_time(job, at)
    return [
        DetailLogged(
            originator_id=job.id,
            originator_version=job.version + 1,
            timestamp=at,
            logType=known,
            logMessage=message,
            dateCreated=at,
            assetName=asset_name,
            assetType=asset_type,
            assetHandle=asset_handle,
            auxArray=rows,
        )
    ]


def decide_stop(job: Job, requested_by: str, reason: str, at: datetime) -> list[JobEvent]:
    """Ask a New or Running job to stop; a run that never started ends at once."""
    _check_live(job, "stop")
    if job.state == "Stopping":
        raise InvalidTransitionError(job.jobHandle, "Stopping", "stop", "a stop is already under way")
    _check_time(job, at)
    events: list[JobEvent] = [
        StopRequested(
            originator_id=job.id,
            originator_version=job.version + 1,
            timestamp=at,
            requestedBy=requested_by,
            reason=reason,
        )
    ]
    if job.state == "New":
        # No server holds the run, so nobody else would ever report it Done.
        events.append(
            Completed(
                originator_id=job.id,
                originator_version=job.version + 2,
                timestamp=at,
                endDate=at,
                message="stopped before it started",
            )
        )
    return events


def decide_complete(
    job: Job, fatal: bool, message: str, counters: Counters | None, at: datetime
) -> list[JobEvent]:
    """End a Running or Stopping job."""
    _check_live(job, "complete")
    if job.state == "New":
        raise InvalidTransitionError(
            job.jobHandle, "New", "complete", "start it first, or stop it to end it unstarted"
        )
    _check_time(job, at)  # counters were checked against their schema with the command
    return [
        Completed(
            originator_id=job.id,
            originator_version=job.version + 1,
            timestamp=at,
            endDate=at,
            fatalError=fatal,
            message=message,
            counters=counters,
        )
    ]


def decide_delete(job: Job, requested_by: str, at: datetime) -> list[JobEvent]:
    """Delete a job; a live run is stopped and ended first."""
    if job.deleted:
        raise InvalidTransitionError(job.jobHandle, "deleted", "delete")
    _check_time(job, at)
    events: list[JobEvent] = []
    version = job.version
    if job.state in LIVE_STATES:
        if job.state != "Stopping":
            version += 1
            events.append(
                StopRequested(
                    originator_id=job.id,
                    originator_version=version,
                    timestamp=at,
                    requestedBy=requested_by,
                    reason="deleted",
                )
            )
        version += 1
        events.append(
            Completed(
                originator_id=job.id,
                originator_version=version,
                timestamp=at,
                endDate=at,
                message="deleted while live",
            )
        )
    events.append(
        Deleted(
            originator_id=job.id,
            originator_version=version + 1,
            timestamp=at,
            requestedBy=requested_by,
        )
    )
    return events
