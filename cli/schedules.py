"""Schedule commands: the `scheduled` query (getScheduledJobs) and the `scheduler` that fires them."""

from __future__ import annotations

import threading
from datetime import datetime

import click

from jobledger.cli import tables
from jobledger.cli.group import Config, cli, pass_config
from jobledger.cli.hints import with_hint
from jobledger.cli.options import ISO_TIME, Seconds
from jobledger.cli.render import emit, emit_table, output_options
from jobledger.cli.signals import stop_on_signals
from jobledger.cli.views import as_of_option, limit_option, reads
from jobledger.domain.errors import ClockSkewError
from jobledger.projections import queries
from jobledger.service import scheduler


@cli.command("scheduled")
@click.option("--company", default=None, help="Only this company's schedules.")
@click.option("--job", default=None, help="Only the schedule with this handle.")
@click.option("--original-name", default=None, help="Only the schedule of this job name.")
@limit_option
@as_of_option
@output_options()
@pass_config
def scheduled(
    config: Config,
    company: str | None,
    job: str | None,
    original_name: str | None,
    limit: int | None,
    as_of: datetime | None,
    fmt: str,
) -> None:
    """List schedules that may still fire, Normal or Paused (getScheduledJobs)."""
    source = reads(config, as_of)
    records = source.scheduled_jobs(company=company, job=job, original_name=original_name, limit=limit)
    if fmt != "table":
        emit(fmt, records, list(queries.SCHEDULED_FIELDS))
        return
    columns = ["schedule", "type", "rule", "zone", "next", "state"]
    emit_table(tables.scheduled_rows(records), columns, optional=["type", "zone"], free=["rule"])
    source.warn_unknown_company(company, len(records))


@cli.group("scheduler")
def scheduler_group() -> None:
    """Fire due schedules: once (tick) or continuously (run)."""


@scheduler_group.command("tick")
@click.option("--at", type=ISO_TIME, default=None, help="Tick as if it were this time (default now).")
@click.option(
    "--force", is_flag=True, help="Accept an --at beyond the clock-skew tolerance (fires schedules early)."
)
@pass_config
def tick(config: Config, at: datetime | None, force: bool) -> None:
    """Fire every schedule due at this time and print the runs created, one handle a line."""
    try:
        handles = scheduler.tick(config.ledger(), config.projector(), at, force=force)
    except ClockSkewError as err:  # (only this command has --force to offer)
        raise click.ClickException(f"{with_hint(err)}, or give --force") from None
    for handle in handles:
        click.echo(handle)


@scheduler_group.command("run")
@click.option(
    "--interval",
    type=Seconds(0.01),
    default=1.0,
    show_default=True,
    help="Seconds between ticks.",
)
@pass_config
def run(config: Config, interval: float) -> None:
    """Tick every INTERVAL seconds until SIGINT or SIGTERM, printing the runs created."""
    projector = config.projector()
    stop = threading.Event()
    click.echo(f"firing due schedules every {interval}s; stop with Ctrl-C", err=True)
    with stop_on_signals(stop):
        scheduler.run(
            config.ledger(), projector, interval, stop, lambda handles: click.echo("\n".join(handles))
        )
    click.echo("scheduler stopped", err=True)
