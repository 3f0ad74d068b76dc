"""Commands that drive one run of a job (submit, start, progress, log, complete, stop, delete) and
read it (show, history). Each opens the ledger and makes one library call."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
import msgspec

from jobledger.cli.group import Config, cli, pass_config
from jobledger.cli.options import ISO_TIME, JSON_TEXT, at_option, company_option, counts
from jobledger.cli.render import emit, emit_one, emit_table, output_options
from jobledger.cli.timefmt import when
from jobledger.domain.errors import RuleError
from jobledger.domain.events import Counters, JobLogDetailAux, TaskProgress
from jobledger.domain.limits import explain
from jobledger.domain.payloads import TOO_DEEP_TO_READ, decode_payload
from jobledger.service.records import event_record, job_record


def _decode(data: bytes | None, type_: Any, what: str) -> Any:
    if data is None:
        return None
    try:
        try:
            return msgspec.json.decode(data, type=type_)
        except msgspec.ValidationError as err:
            msgspec.json.decode(data)  # (a typed decode stops at the first wrong type: '{' of '{bad')
            path, problem = explain(err)
            raise RuleError(f"invalid {what}: {path + ': ' if path else ''}{problem}") from err
    except msgspec.DecodeError as err:
        raise RuleError(f"malformed JSON in {what}: {err}") from None
    except RecursionError:
        raise RuleError(f"malformed JSON in {what}: {TOO_DEEP_TO_READ}") from None


@cli.command("submit")
@company_option(required=True)
@click.option("--name", required=True, help="Job name; it becomes originalName.")
@click.option("--type", "kind", required=True, help="Payload kind, e.g. imageServingPublishJob.")
@click.option("--payload", type=JSON_TEXT, default=None, help="The payload's fields as JSON, or @file.")
@click.option("--user-email", default="", help="Email of the submitter (submitUserEmail).")
@click.option("--locale", default="", help="Locale of the job log and emails: ll or ll-CC.")
@click.option("--description", default="", help="Free text shown with the job.")
@click.option(
    "--idempotency-key", default=None, help="Repeat-safe key: the same request returns the first handle."
)
@click.option("--exec-time", type=ISO_TIME, default=None, help="Run once at this time: creates a schedule.")
@click.option(
    "--exec-schedule",
    default=None,
    help="Recurring rule: Quartz 'sec min hour dom month dow [year]' or 5-field cron; creates a schedule.",
)
@click.option("--time-zone", default="UTC", show_default=True, help="IANA zone the schedule is read in.")
@at_option
@pass_config
def submit(
    config: Config,
    company: str,
    name: str,
    kind: str,
    payload: bytes | None,
    user_email: str,
    locale: str,
    description: str,
    idempotency_key: str | None,
    exec_time: datetime | None,
    exec_schedule: str | None,
    time_zone: str,
    at: datetime | None,
) -> None:
    """Submit a job and print its handle: a run now, or a schedule with --exec-time/--exec-schedule."""
    decoded = decode_payload(kind, payload or b"{}")
    handle = config.jobs(create=True).submit(
        company,
        name,
        decoded,
        user_email=user_email,
        locale=locale,
        description=description,
        idempotency_key=idempotency_key,
        exec_time=exec_time,
        exec_schedule=exec_schedule,
        time_zone=time_zone,
        at=at,
    )
    click.echo(handle)


@cli.command("start")
@click.argument("handle")
@click.option("--server", required=True, help="Name of the server running the job.")
@click.option("--total-size", type=counts(), default=0, help="Size of the work.")
@company_option()
@at_option
@pass_config
def start(
    config: Config, handle: str, server: str, total_size: int, company: str | None, at: datetime | None
) -> None:
    """Mark a submitted job as running on SERVER."""
    config.jobs().start(handle, server, total_size=total_size, company=company, at=at)


@cli.command("progress")
@click.argument("handle")
@click.option("--percent", type=int, required=True, help="Overall progress, 0 to 100.")
@click.option("--message", default="", help="Progress text.")
@click.option("--tasks", type=JSON_TEXT, default=None, help="TaskProgress rows as a JSON list, or @file.")
@click.option("--server", default=None, help="Server sending the report (default: the one running the job).")
@company_option()
@at_option
@pass_config
def progress(
    config: Config,
    handle: str,
    percent: int,
    message: str,
    tasks: bytes | None,
    server: str | None,
    company: str | None,
    at: datetime | None,
) -> None:
    """Report how far a running job has got, overall and per task."""
    rows = _decode(tasks, list[TaskProgress], "--tasks") or []
    config.jobs().update_progress(
        handle, percent, message=message, tasks=rows, server=server, company=company, at=at
    )


@cli.command("log")
@click.argument("handle")
@click.option("--log-type", required=True, help="A Job Log Types value, e.g. UploadSuccess.")
@click.option("--message", required=True, help="The log message.")
@click.option("--asset-name", default=None, help="Name of the file the row is about.")
@click.option("--asset-type", default=None, help="A Job Log File Types value, e.g. MasterImage.")
@click.option("--asset-handle", default=None, help="Handle of the asset the row is about.")
@click.option(
    "--aux", type=JSON_TEXT, default=None, help="Extra warning/error rows as a JSON list, or @file."
)
@company_option()
@at_option
@pass_config
def log(
    config: Config,
    handle: str,
    log_type: str,
    message: str,
    asset_name: str | None,
    asset_type: str | None,
    asset_handle: str | None,
    aux: bytes | None,
    company: str | None,
    at: datetime | None,
) -> None:
    """Write one row to a live job's log."""
    rows = _decode(aux, list[JobLogDetailAux], "--aux") or []
    config.jobs().log_detail(
        handle,
        log_type,
        message,
        asset_name=asset_name,
        asset_type=asset_type,
        asset_handle=asset_handle,
        aux=rows,
        company=company,
        at=at,
    )


@cli.command("complete")
@click.argument("handle")
@click.option("--fatal", is_flag=True, help="The job hit a fatal error.")
@click.option("--message", default="", help="Closing message.")
@click.option("--counters", type=JSON_TEXT, default=None, help="Final counters as JSON (override the log's).")
@company_option()
@at_option
@pass_config
def complete(
    config: Config,
    handle: str,
    fatal: bool,
    message: str,
    counters: bytes | None,
    company: str | None,
    at: datetime | None,
) -> None:
    """End a running job and print its outcome."""
    final = _decode(counters, Counters, "--counters")
    job = config.jobs().complete(handle, fatal=fatal, message=message, counters=final, company=company, at=at)
    click.echo(f"{job.jobHandle}: Done, {job.outcome}")


@cli.command("stop")
@click.argument("handle")
@click.option("--reason", default="", help="Why the job should stop.")
@click.option("--user-email", default="", help="Who asked.")
@company_option()
@at_option
@pass_config
def stop(
    config: Config, handle: str, reason: str, user_email: str, company: str | None, at: datetime | None
) -> None:
    """Ask a New or Running job to stop (a New one ends at once)."""
    job = config.jobs().request_stop(handle, reason=reason, requested_by=user_email, company=company, at=at)
    click.echo(f"{job.jobHandle}: {job.state}")


@cli.command("delete")
@click.argument("handle")
@click.option("--user-email", default="", help="Who asked.")
@company_option()
@at_option
@pass_config
def delete(config: Config, handle: str, user_email: str, company: str | None, at: datetime | None) -> None:
    """Delete a run (a live one is stopped first) or a schedule. Its history is kept."""
    state = config.jobs().delete(handle, requested_by=user_email, company=company, at=at)
    click.echo(f"{state.jobHandle}: deleted")


@cli.command("pause")
@click.argument("handle")
@click.option("--user-email", default="", help="Who asked.")
@company_option()
@at_option
@pass_config
def pause(config: Config, handle: str, user_email: str, company: str | None, at: datetime | None) -> None:
    """Pause a schedule: it does not fire until resumed (runs cannot be paused; stop them)."""
    schedule = config.jobs().pause(handle, requested_by=user_email, company=company, at=at)
    click.echo(f"{schedule.jobHandle}: {schedule.triggerState}")


@cli.command("resume")
@click.argument("handle")
@click.option("--user-email", default="", help="Who asked.")
@company_option()
@at_option
@pass_config
def resume(config: Config, handle: str, user_email: str, company: str | None, at: datetime | None) -> None:
    """Resume a paused schedule; a fire time missed meanwhile fires once at the next tick."""
    schedule = config.jobs().resume(handle, requested_by=user_email, company=company, at=at)
    click.echo(f"{schedule.jobHandle}: {schedule.triggerState}")


@cli.command("execute")
@click.argument("handle")
@company_option()
@at_option
@pass_config
def execute(config: Config, handle: str, company: str | None, at: datetime | None) -> None:
    """Run a schedule's job now and print the new run's handle; the trigger is unchanged."""
    click.echo(config.jobs().execute(handle, company=company, at=at))


@cli.command("show")
@click.argument("handle")
@company_option()
@click.option(
    "--as-of", type=ISO_TIME, default=None, help="The state after the events stamped up to this time."
)
@click.option("--version", type=counts(1), default=None, help="The state after its first N events.")
@output_options("table", "json", "ndjson")
@pass_config
def show(
    config: Config, handle: str, company: str | None, as_of: datetime | None, version: int | None, fmt: str
) -> None:
    """Print a run's or schedule's state, now or as it was (IPS field names, plus outcome)."""
    if as_of is not None and version is not None:
        raise click.UsageError("give --as-of or --version, not both", click.get_current_context())
    ledger = config.jobs()
    if as_of is None and version is None:
        state = ledger.get(handle, company)
    else:
        state = ledger.state_at(handle, as_of=as_of, version=version, company=company)
    emit_one(fmt, job_record(state))


def _field(value: Any) -> str:
    """A field as history's table shows it: text as is, anything nested as JSON."""
    if isinstance(value, str):
        return value
    return msgspec.json.encode(value).decode()


@cli.command("history")
@click.argument("handle")
@company_option()
@click.option("--limit", type=counts(1), default=None, help="Only the first N events.")
@output_options("table", "json", "ndjson")
@pass_config
def history(config: Config, handle: str, company: str | None, limit: int | None, fmt: str) -> None:
    """Print every event of a job in order: name, version, time and fields."""
    records = [event_record(event) for event in config.jobs().history(handle, company, limit)]
    if fmt != "table":
        emit(fmt, records, ["version", "timestamp", "event", "fields"])
        return
    rows = [
        {
            "version": r["version"],
            "timestamp": when(r["timestamp"]),
            "event": r["event"],
            "fields": " ".join(f"{k}={_field(v)}" for k, v in r["fields"].items() if v not in (None, "", [])),
        }
        for r in records
    ]
    emit_table(rows, ["version", "timestamp", "event", "fields"], free=["fields"])
