"""POST /v1/batch: many commands in one request, as `record` (all or none, in one transaction)
or as `record_each` (each stands alone; the group commits those that keep the rules).

Each item is an action and its body as the single-command routes take them (the IPS names):
`{"action": "start", "jobHandle": H, "body": {"serverName": ...}}`, `{"action": "submit",
"body": {"companyHandle": ..., "jobName": ..., ...}, "idempotencyKey": K}`. A runner that
reports a run's progress and files in one go sends one request and waits for one commit.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from jobledger.domain.access import DRIVE, MANAGE
from jobledger.domain.commands import Command

from . import wire
from .auth import DRIVING, Caller
from .errors import HttpError

# action -> (its body's type, the command it makes, the grant it needs)
JOB_ACTIONS: dict[str, tuple[Any, Any, str]] = {
    "start": (wire.StartJob, wire.start_command, DRIVE),
    "progress": (wire.ReportProgress, wire.progress_command, DRIVE),
    "log": (wire.JobLogDetail, wire.log_command, DRIVE),
    "complete": (wire.CompleteJob, wire.complete_command, DRIVE),
    "stop": (wire.StopJob, wire.stop_command, DRIVE),
}
SCHEDULE_ROUTES = ("pause", "resume", "execute")  # POST /v1/jobs/{h}/<action>; delete is a DELETE
SCHEDULE_ACTIONS = (*SCHEDULE_ROUTES, "delete")


def asked_of(action: str) -> str:
    """What a 403 says a role may not do, for a schedule action or a delete."""
    return "delete jobs" if action == "delete" else f"{action} schedules"


class BatchItem(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One command of a batch."""

    action: str
    jobHandle: str | None = None
    idempotencyKey: str | None = None
    body: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"{}"))


class Batch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A batch: `atomic` (the default) records all or none."""

    # (At most wire.MAX_BATCH, checked by check_size: more is a 413, as a body too large is.)
    commands: Annotated[list[BatchItem], msgspec.Meta(min_length=1)]
    atomic: bool = True


def check_size(items: int, what: str) -> None:
    """A request of more than wire.MAX_BATCH commands is too large (413), refused whole."""
    if items > wire.MAX_BATCH:
        raise HttpError(
            413, "too_large", f"an array of {items} {what}: send at most {wire.MAX_BATCH} a request"
        )


def commands_of(batch: Batch, caller: Caller) -> list[Command]:
    """The commands a batch asks for, each checked against the caller's role; the first that
    is wrong refuses the whole request (400 or 403), naming its place."""
    check_size(len(batch.commands), "commands")
    commands = []
    for index, item in enumerate(batch.commands, 1):
        try:
            commands.append(_command(item, caller))
        except msgspec.ValidationError as err:
            raise HttpError(
                400, "invalid_body", f"invalid body of command {index} ({item.action}): {err}"
            ) from None
        except HttpError as err:
            raise HttpError(err.status, err.code, f"command {index} ({item.action}): {err}") from None
    return commands


def _command(item: BatchItem, caller: Caller) -> Command:
    if item.action == "submit":
        caller.require(DRIVE, DRIVING)
        submitted = wire.decode(wire.SubmitJob, bytes(item.body))
        caller.acts_for(submitted.companyHandle)
        return wire.submit_command(submitted, item.idempotencyKey)
    if item.jobHandle is None:
        raise HttpError(400, "invalid_body", "jobHandle is required")
    if item.action in JOB_ACTIONS:
        kind, make, grant = JOB_ACTIONS[item.action]
        caller.require(grant, DRIVING)
        command: Command = make(item.jobHandle, wire.decode(kind, bytes(item.body)))
        return command
    if item.action in SCHEDULE_ACTIONS:
        caller.require(MANAGE, asked_of(item.action))
        return wire.schedule_command(
            item.action, item.jobHandle, wire.decode(wire.ChangeSchedule, bytes(item.body))
        )
    known = ", ".join(["submit", *JOB_ACTIONS, *SCHEDULE_ACTIONS])
    raise HttpError(400, "invalid_body", f"no action {item.action!r} (one of {known})")
