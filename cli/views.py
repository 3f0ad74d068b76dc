"""Read commands on the views (active, logs, details, asset-logs) and `projections` admin commands.

Every read first catches the views up with the store, so it sees every event committed before it.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click

from jobledger.cli import tables, timefmt
from jobledger.cli.group import Config, cli, pass_config
from jobledger.cli.options import ISO_TIME, Seconds, company_option, counts
from jobledger.cli.reads import LocalReads, Reads, RemoteReads
from jobledger.cli.render import emit, emit_json, emit_record, emit_table, output_options
from jobledger.cli.signals import stop_on_signals
from jobledger.cli.vocab import JOB_TYPE, OneOf
from jobledger.domain.constants import JOB_STATES, OUTCOMES
from jobledger.projections import checks, queries
from jobledger.projections.asof import views_as_of
from jobledger.projections.checks import MAX_PAGE
from jobledger.projections.database import ViewsDatabase
from jobledger.projections.runner import Projector
from jobledger.projections.views import VIEWS
from jobledger.store.config import is_disk_full
from jobledger.store.reader import count_events, name_positions


@contextmanager
def progress_bar(total: int, label: str) -> Iterator[Any]:
    """A progress bar on a terminal's stderr; nothing when output is not a terminal."""
    if total <= 0 or not sys.stderr.isatty():
        yield lambda n: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


def _cannot_write(projector: Projector) -> str:
    reason = projector.db.unwritable
    return "the views are read-only" if reason == "read-only" else f"the views cannot be written ({reason})"


def caught_up(config: Config) -> Projector:
    """The projector, with every view caught up (a bar on a terminal if much is to be done)."""
    projector = config.projector()
    if projector.db.copied_from:
        config.notices.append(f"{_cannot_write(projector)}; answering from an in-memory catch-up")
    lag = projector.lag()
    try:
        if lag > 10_000:
            with progress_bar(lag, "catching up views") as advance:
                projector.catch_up(progress=advance)
        else:
            projector.catch_up()
    except sqlite3.OperationalError as err:
        if not is_disk_full(str(err)):
            raise
        # A read still answers, from the views as they stand (whole: the batch was rolled back).
        config.notices.append(
            f"the views could not be brought up to date (no space left on the device holding"
            f" {projector.db.path}); answering from them as they are, {lag:,} events behind"
        )
    return projector


def as_of_option(f: Any) -> Any:
    """--as-of: answer from the events stamped at or before a moment, not the live views."""
    return click.option(
        "--as-of", type=ISO_TIME, default=None, help="Show the view as it stood at this time (ISO 8601)."
    )(f)


def views_for(config: Config, as_of: datetime | None) -> ViewsDatabase:
    """The live views, caught up; or, with --as-of, the views as they stood then."""
    if as_of is None:
        return caught_up(config).db
    return views_as_of(config.projector(), as_of)


def reads(config: Config, as_of: datetime | None = None) -> Reads:
    """The queries for a read command: the server's, or the local views (caught up, or as of)."""
    if config.server is None:
        return LocalReads(views_for(config, as_of))
    if as_of is not None:
        raise click.UsageError(
            f"--as-of reads the ledger's events: run it on the server's host, not with {config.server_from}"
        )
    return RemoteReads(config.client())


# --- queries ---------------------------------------------------------------------------------


def limit_option(f: Any) -> Any:
    """--limit: at most this many rows."""
    return click.option("--limit", type=counts(1), default=None, help="At most this many rows.")(f)


def reference_time(as_of: datetime | None) -> datetime:
    """The moment ages and staleness are measured from: --as-of, or now."""
    return as_of or timefmt.now()


@cli.command("active")
@click.option("--company", default=None, help="Only this company's runs.")
@click.option("--job", default=None, help="Only the run with this handle.")
@click.option("--original-name", default=None, help="Only runs of the job submitted under this name.")
@click.option("--include-waiting", is_flag=True, help="Also list New runs still waiting for a server.")
@click.option("--state", type=OneOf(checks.ACTIVE_STATES), help="Only this state.")
@click.option("--type", "job_type", type=JOB_TYPE, default=None, help="Only this job type (or payload kind).")
@click.option("--server", default=None, help="Only runs on this server.")
@limit_option
@as_of_option
@output_options()
@pass_config
def active(
    config: Config,
    as_of: datetime | None,
    company: str | None,
    job: str | None,
    original_name: str | None,
    include_waiting: bool,
    state: str | None,
    job_type: str | None,
    server: str | None,
    limit: int | None,
    fmt: str,
) -> None:
    """List runs not yet Done (getActiveJobs), with progress and ETA; stalled runs are marked."""
    source = reads(config, as_of)
    records = source.active_jobs(
        company=company,
        job=job,
        original_name=original_name,
        include_waiting=include_waiting,
        state=state,
        job_type=job_type,
        server=server,
        limit=limit,
    )
    if fmt != "table":
        emit(fmt, records, list(queries.ACTIVE_FIELDS))
        return
    rows = tables.active_rows(records, reference_time(as_of))
    emit_table(rows, tables.ACTIVE_COLUMNS, optional=tables.ACTIVE_OPTIONAL)
    source.warn_unknown_company(company, len(rows))


@cli.command("logs")
@click.option("--company", default=None, help="Only this company's runs.")
@click.option("--user", default=None, help="Only runs submitted by this email.")
@click.option("--since", type=ISO_TIME, default=None, help="Runs started at or after this time.")
@click.option("--until", type=ISO_TIME, default=None, help="Runs started at or before this time.")
@click.option("--sort-by", type=OneOf(list(queries.LOG_SORT_FIELDS)), default="StartDate", show_default=True)
@click.option("--direction", type=OneOf(list(queries.DIRECTIONS)), default="Descending", show_default=True)
@limit_option
@click.option("--outcome", type=OneOf(OUTCOMES), default=None, help="Only done runs with this outcome.")
@click.option("--state", type=OneOf(JOB_STATES), default=None, help="Only runs in this state.")
@click.option("--type", "job_type", type=JOB_TYPE, default=None, help="Only this job type (or payload kind).")
@click.option("--server", default=None, help="Only runs started on this server.")
@click.option(
    "--deleted/--no-deleted",
    default=None,
    help="Only deleted runs, or none of them (default: all, deleted ones marked).",
)
@as_of_option
@output_options()
@pass_config
def logs(
    config: Config,
    as_of: datetime | None,
    company: str | None,
    user: str | None,
    since: datetime | None,
    until: datetime | None,
    sort_by: str,
    direction: str,
    limit: int | None,
    outcome: str | None,
    state: str | None,
    job_type: str | None,
    server: str | None,
    deleted: bool | None,
    fmt: str,
) -> None:
    """List job-log summaries, one per run (getJobLogs); deleted runs are marked."""
    source = reads(config, as_of)
    records = source.job_logs(
        company=company,
        user=user,
        since=since,
        until=until,
        sort_by=sort_by,
        direction=direction,
        limit=limit,
        outcome=outcome,
        state=state,
        job_type=job_type,
        server=server,
        deleted=deleted,
    )
    if fmt != "table":
        emit(fmt, records, list(queries.JOB_LOG_FIELDS))
        return
    emit_table(tables.log_rows(records), tables.LOG_COLUMNS, optional=["type"])
    source.warn_unknown_company(company, len(records))


def _log_types(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[str]:
    try:
        return [checks.log_type(value) for value in values]
    except checks.UnknownValueError as err:
        raise click.BadParameter(str(err), ctx, param) from None


@cli.command("details")
@click.argument("handle")
@company_option()
@click.option(
    "--log-type", "log_types", multiple=True, callback=_log_types, help="Only rows of this type (repeatable)."
)
@click.option("--sort-by", type=OneOf(list(queries.DETAIL_SORT_FIELDS)), default="Date", show_default=True)
@click.option("--direction", type=OneOf(list(queries.DIRECTIONS)), default="Ascending", show_default=True)
@click.option("--page", type=click.IntRange(1, MAX_PAGE), default=1, show_default=True, help="Page, from 1.")
@click.option(
    "--per-page",
    type=click.IntRange(1, queries.MAX_PER_PAGE),
    default=queries.MAX_PER_PAGE,
    show_default=True,
    help="Rows per page (at most 1000).",
)
@click.option("--limit", type=counts(1), default=None, help="At most this many rows (of the page).")
@as_of_option
@output_options()
@pass_config
def details(
    config: Config,
    as_of: datetime | None,
    handle: str,
    company: str | None,
    log_types: list[str],
    sort_by: str,
    direction: str,
    page: int,
    per_page: int,
    limit: int | None,
    fmt: str,
) -> None:
    """Show one run's job log with its detail rows (getJobLogDetails)."""
    record = reads(config, as_of).job_log_details(
        handle,
        company=company,
        log_types=log_types,
        sort_by=sort_by,
        direction=direction,
        page=page,
        per_page=per_page,
    )
    if limit is not None:
        del record["detailArray"][limit:]
    if fmt == "json":
        emit_json(record)
        return
    if fmt != "table":
        emit(fmt, record["detailArray"], list(queries.DETAIL_FIELDS))
        return
    summary = {k: record[k] for k in ("jobHandle", "type", "state", "outcome", "detailTotalRows")}
    emit_record(summary)
    click.echo()
    rows = tables.detail_rows(record["detailArray"])
    emit_table(rows, ["date", "logType", "asset", "message"], free=["asset", "message"])


@cli.command("asset-logs")
@click.argument("asset_handle")
@click.option("--company", required=True, help="Company that owns the asset.")
@limit_option
@output_options()
@pass_config
def asset_logs(config: Config, asset_handle: str, company: str, limit: int | None, fmt: str) -> None:
    """List every job-log row that names one asset (getAssetJobLogs)."""
    source = reads(config)
    records = source.asset_job_logs(asset_handle, company, limit=limit)
    if fmt != "table":
        emit(fmt, records, list(queries.ASSET_LOG_FIELDS))
        return
    emit_table(tables.asset_rows(records), ["date", "job", "logType", "message"], free=["message"])
    source.warn_unknown_company(company, len(records))


# --- projections admin -----------------------------------------------------------------------


@cli.group("projections")
def projections() -> None:
    """Inspect, catch up, run, rebuild and verify the views."""


@projections.command("status")
@output_options()
@pass_config
def status(config: Config, fmt: str) -> None:
    """Per view: position, lag behind the store, row count, and the events passed unread; and the
    tables a killed rebuild left behind.

    An event that does not decode is quarantined: the views pass it without folding it, and it is
    listed here (the `quarantine` table in the views database) until a rebuild finds it readable.
    """
    projector = config.projector()
    if projector.db.copied_from:
        click.echo(f"{_cannot_write(projector)}; showing them as stored", err=True)
    quarantined = projector.quarantined()
    rows = [
        {
            "view": s.view,
            "position": s.position,
            "lag": s.lag,
            "rows": s.rows,
            "quarantined": sum(q.position <= s.position for q in quarantined),
        }
        for s in projector.status()
    ]
    emit(fmt, rows, ["view", "position", "lag", "rows", "quarantined"])
    if quarantined and fmt == "table":
        click.echo(f"{count_events(len(quarantined))} quarantined: {name_positions(quarantined)}")
    abandoned = projector.db.abandoned()
    if abandoned and fmt == "table":
        click.echo(
            f"left by a rebuild that no longer runs (the next rebuild drops them): {', '.join(abandoned)}"
        )


def writable_projector(config: Config) -> Projector:
    """The projector, for a command whose work is to change the views file."""
    projector = config.projector()
    if projector.db.copied_from:
        reason = projector.db.unwritable
        raise click.ClickException(
            f"the views database {projector.db.copied_from} is read-only"
            if reason == "read-only"
            else f"the views database {projector.db.copied_from} cannot be written: {reason}"
        )
    return projector


@projections.command("catch-up")
@pass_config
def catch_up(config: Config) -> None:
    """Bring every view up to date with the store."""
    projector = writable_projector(config)
    lag = projector.lag()
    with progress_bar(lag, "catching up views") as advance:
        read = projector.catch_up(progress=advance)
    click.echo(f"caught up: {read} events folded, views at position {projector.head()}")


@projections.command("run")
@click.option(
    "--interval",
    type=Seconds(0.01),
    default=1.0,
    show_default=True,
    help="Seconds between polls.",
)
@pass_config
def run(config: Config, interval: float) -> None:
    """Keep the views caught up until SIGINT or SIGTERM; the batch in hand is finished first."""
    projector = writable_projector(config)
    stop = threading.Event()
    click.echo(f"keeping views up to date every {interval}s; stop with Ctrl-C", err=True)
    with stop_on_signals(stop):
        projector.run(interval, stop)
    click.echo(f"stopped with the views {projector.lag()} events behind the store", err=True)


@projections.command("rebuild")
@click.argument("view", required=False, type=click.Choice(list(VIEWS)))
@pass_config
def rebuild(config: Config, view: str | None) -> None:
    """Rebuild one view (or all) from the first event, beside the live ones, then swap them in."""
    projector = writable_projector(config)
    with progress_bar(projector.head(), "rebuilding") as advance:
        read = projector.rebuild([view] if view else None, progress=advance)
    click.echo(f"rebuilt {view or 'all views'} from {read} events")


@projections.command("verify")
@pass_config
def verify(config: Config) -> None:
    """Rebuild every view aside and compare with the live ones; exit 1 on any difference."""
    differences = config.projector().verify()
    if not differences:
        click.echo("all views match a fresh rebuild")
        return
    for difference in differences:
        live, rebuilt = difference.live or {}, difference.rebuilt or {}
        if not live or not rebuilt:
            where = "missing from the live view" if not live else "not in a fresh rebuild"
            click.echo(f"{difference.view} {difference.key}: row {where}")
            continue
        for column in live:
            if live[column] != rebuilt.get(column):
                click.echo(
                    f"{difference.view} {difference.key}: {column} is {live[column]!r},"
                    f" a rebuild gives {rebuilt.get(column)!r}"
                )
    views = sorted({d.view for d in differences})
    raise click.ClickException(f"views differ from a fresh rebuild: {', '.join(views)}")
