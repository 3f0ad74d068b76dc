"""The HTTP API's bodies and answers, with the IPS field names, and their translation to commands.

Every body is a msgspec Struct: the request's JSON is decoded and checked against it in one C
call, and the OpenAPI document is generated from the same types (server/openapi.py). Unknown
fields are refused, as a typo in a runner's field name must not be dropped silently.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

import msgspec

from jobledger.domain.access import ROLES
from jobledger.domain.commands import (
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
from jobledger.domain.events import Counters, JobLogDetailAux, TaskProgress
from jobledger.domain.payloads import (
    PAYLOAD_KINDS,
    TOO_DEEP_TO_READ,
    PayloadError,
    payload_error,
    validate_payload,
)

MAX_BATCH = 1000  # commands in one request (a /log array, a batch): a group commit's worth


class Body(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Fields every command body may carry: the time of the event (default: when it is decided)."""

    at: datetime | None = None


def _submit_fields() -> list[tuple[str, Any, Any]]:
    # One optional key per payload kind (IPS: exactly one of uploadUrlsJob, exportJob, ...).
    return [(kind, cls | None, None) for kind, (cls, _) in PAYLOAD_KINDS.items()]


SubmitJob = msgspec.defstruct(
    "SubmitJob",
    [
        ("companyHandle", str),
        ("jobName", str),
        *_submit_fields(),
        ("execTime", datetime | None, None),
        ("execSchedule", str | None, None),
        ("timeZone", str, "UTC"),
        ("locale", str, ""),
        ("description", str, ""),
        ("submitUserEmail", str, ""),
    ],
    bases=(Body,),
    kw_only=True,
    forbid_unknown_fields=True,
    module=__name__,
)


class StartJob(Body, kw_only=True, forbid_unknown_fields=True):
    """A server began running the job."""

    serverName: str
    totalSize: int = 0


class ReportProgress(Body, kw_only=True, forbid_unknown_fields=True):
    """How far a running job has got, overall (0..100) and per task."""

    progress: int
    progressMessage: str = ""
    taskProgressArray: list[TaskProgress] = msgspec.field(default_factory=list)
    serverName: str | None = None


class JobLogDetail(Body, kw_only=True, forbid_unknown_fields=True):
    """One row of a job's log (a runner sends one, or an array of them)."""

    logType: str
    logMessage: str
    assetName: str | None = None
    assetType: str | None = None
    assetHandle: str | None = None
    auxArray: list[JobLogDetailAux] = msgspec.field(default_factory=list)


class CompleteJob(Body, kw_only=True, forbid_unknown_fields=True):
    """The run ended; counters default to what its detail rows add up to."""

    fatalError: bool = False
    message: str = ""
    counters: Counters | None = None


class StopJob(Body, kw_only=True, forbid_unknown_fields=True):
    """Ask a New or Running job to stop."""

    reason: str = ""
    requestedBy: str = ""


class ChangeSchedule(Body, kw_only=True, forbid_unknown_fields=True):
    """Pause, resume or delete: who asked."""

    requestedBy: str = ""


# Any text in the body: an unknown role is the ledger's own error (as create_token raises it);
# the schema still lists the roles.
RoleName = Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(ROLES)})]


class CreateToken(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/tokens: a token for a company with an IPS user type; the answer shows its
    secret once."""

    companyHandle: str
    role: RoleName
    name: str = ""


class Accepted(msgspec.Struct, kw_only=True):
    """A command made durable: the run or schedule it acted on, its state after it, and the
    position of its last event (read your write with `minPosition`). A submit replayed by its
    Idempotency-Key is answered 200 with the first answer's very body, and the header
    `Idempotent-Replayed: true`."""

    jobHandle: str
    position: int
    state: dict[str, Any] | None = None
    rows: int | None = None  # a /log array's: how many rows (the state is after the last)
    runHandle: str | None = None  # an execute's: the run it made


class ErrorDetail(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What went wrong, in the one line the CLI prints; for an error of the ledger, its type and
    attributes too (jobledger.client raises the very error again)."""

    code: str
    message: str
    type: str | None = None
    details: dict[str, str | int | bool | None] | None = None
    row: int | None = None  # a /log array's: the row (from 0) that failed, none of them recorded


class ErrorBody(msgspec.Struct, kw_only=True):
    """Every error answer: `{"error": {"code": ..., "message": ...}}`."""

    error: ErrorDetail


_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def decode(kind: Any, body: bytes) -> Any:
    """A request body (empty: `{}`) as `kind`, with one decoder made per type and kept. A submit
    whose payload is wrong is refused with every problem of the payload named, as the CLI names
    them (msgspec stops at the first)."""
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    try:
        try:
            return decoder.decode(body or b"{}")
        except msgspec.ValidationError as err:
            if kind is SubmitJob:
                raise _payload_problems(body, err) from err
            raise
    except RecursionError:
        raise msgspec.DecodeError(f"JSON is malformed: {TOO_DEEP_TO_READ}") from None


def _payload_problems(body: bytes, err: msgspec.ValidationError) -> Exception:
    """The payload's error (PayloadError) if `err` is in the payload, else `err`."""
    where = str(err).rpartition(" - at `$.")[2].rstrip("`")
    kind = where.split(".", 1)[0].split("[", 1)[0]
    if kind not in PAYLOAD_KINDS or " - at `$." not in str(err):
        return err
    given = msgspec.json.decode(body)
    return payload_error(PAYLOAD_KINDS[kind][0], given.get(kind) if isinstance(given, dict) else None, err)


def job_path(handle: str, action: str = "") -> str:
    """The API path of a run or schedule (its handle percent-encoded: it holds `|`), or of an action on it."""
    return f"/v1/jobs/{quote(handle, safe='')}" + (f"/{action}" if action else "")


def submit_command(body: Any, idempotency_key: str | None = None) -> Submit:
    """The Submit a SubmitJob body asks for; PayloadError unless it holds exactly one payload."""
    given = [kind for kind in PAYLOAD_KINDS if getattr(body, kind) is not None]
    if len(given) != 1:
        found = f"got {', '.join(given)}" if given else "got none"
        raise PayloadError(f"a job needs exactly one payload key (such as uploadUrlsJob); {found}")
    kind = given[0]
    return Submit(
        company=body.companyHandle,
        name=body.jobName,
        payload=validate_payload(getattr(body, kind)),
        user_email=body.submitUserEmail,
        locale=body.locale,
        description=body.description,
        exec_time=body.execTime,
        exec_schedule=body.execSchedule,
        time_zone=body.timeZone,
        idempotency_key=idempotency_key,
        at=body.at,
    )


def start_command(handle: str, body: StartJob) -> Start:
    """The Start a StartJob body asks for."""
    return Start(handle=handle, server=body.serverName, total_size=body.totalSize, at=body.at)


def progress_command(handle: str, body: ReportProgress) -> UpdateProgress:
    """The UpdateProgress a ReportProgress body asks for."""
    return UpdateProgress(
        handle=handle,
        percent=body.progress,
        message=body.progressMessage,
        tasks=body.taskProgressArray,
        server=body.serverName,
        at=body.at,
    )


def log_command(handle: str, body: JobLogDetail) -> LogDetail:
    """The LogDetail a JobLogDetail body asks for."""
    return LogDetail(
        handle=handle,
        log_type=body.logType,
        message=body.logMessage,
        asset_name=body.assetName,
        asset_type=body.assetType,
        asset_handle=body.assetHandle,
        aux=body.auxArray,
        at=body.at,
    )


def complete_command(handle: str, body: CompleteJob) -> Complete:
    """The Complete a CompleteJob body asks for."""
    return Complete(
        handle=handle, fatal=body.fatalError, message=body.message, counters=body.counters, at=body.at
    )


def stop_command(handle: str, body: StopJob) -> RequestStop:
    """The RequestStop a StopJob body asks for."""
    return RequestStop(handle=handle, reason=body.reason, requested_by=body.requestedBy, at=body.at)


def schedule_command(action: str, handle: str, body: ChangeSchedule) -> Pause | Resume | Delete | Execute:
    """Pause, resume, delete or execute."""
    if action == "pause":
        return Pause(handle=handle, requested_by=body.requestedBy, at=body.at)
    if action == "resume":
        return Resume(handle=handle, requested_by=body.requestedBy, at=body.at)
    if action == "delete":
        return Delete(handle=handle, requested_by=body.requestedBy, at=body.at)
    return Execute(handle=handle, at=body.at)
