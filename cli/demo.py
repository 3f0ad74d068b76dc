"""`jobledger demo`: fill a new ledger with a seeded, realistic day of IPS jobs, then summarise it
and suggest what to look at next."""

from __future__ import annotations

import gc
import shlex
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import click
from jobledger.cli.main import Config, cli, pass_config
from jobledger.cli.render import emit_table
from jobledger.domain.commands import Submit
from jobledger.domain.constants import OUTCOMES
from jobledger.domain.demo import demo_commands
from jobledger.domain.model import Job

LIVE = ("New", "Running", "Stopping")


class Final(NamedTuple):
    """What the summary needs of a run's last state."""

    company: str
    state: str
    outcome: str | None
    deleted: bool
    progress: int

    @classmethod
    def of(cls, job: Job) -> Final:
        return cls(job.companyHandle, job.state, job.outcome, job.deleted, job.progress)


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr when it is a terminal; otherwise nothing."""
    if not sys.stderr.isatty():
        yield lambda n: None
        return
    with click.progressbar(length=total, label="Recording demo jobs", file=sys.stderr) as bar:
        yield bar.update


@contextmanager
def _few_collections() -> Iterator[None]:
    """Let the garbage collector run rarely while the demo loads.

    The load allocates millions of short-lived objects and keeps a growing set of long-lived ones
    (the ledger's cache, the summary); with the default thresholds the collector's passes over
    them take about a third of the time. The load makes no reference cycles to reclaim.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


@cli.command("demo")
@click.option("--jobs", type=click.IntRange(min=1), default=200, show_default=True, help="Runs to simulate.")
@click.option(
    "--companies",
    type=click.IntRange(1, 1000),
    default=4,
    show_default=True,
    help="Companies to spread them over.",
)
@click.option(
    "--seed", type=int, default=7, show_default=True, help="Random seed; the same seed gives the same day."
)
@click.option("--db", default=None, help="Ledger to fill (overrides the global --db); must be new or empty.")
@pass_config
def demo(config: Config, jobs: int, companies: int, seed: int, db: str | None) -> None:
    """Fill a new ledger with a realistic, reproducible day of jobs and summarise it.

    Every payload kind, several companies and servers, progress with task rows, detail rows of
    many log types, warnings, errors, fatal errors, stops and deletes; about a tenth of the runs
    are still New, Running or Stopping at the end. The simulated day ends now.
    """
    path = db or config.db
    ledger = Config(path, config.views).ledger(create=True)
    existing = ledger.event_count()
    if existing:
        raise click.ClickException(
            f"{path} already holds {existing:,} events; the demo fills only a new ledger:"
            " give a new --db path"
        )
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(days=1)
    finals: dict[str, Final] = {}
    with _progress(jobs) as advance, _few_collections():
        for batch in demo_commands(jobs, companies, seed, start):
            last = {state.jobHandle: state for state in ledger.record(batch) if isinstance(state, Job)}
            for handle, job in last.items():
                finals[handle] = Final.of(job)
            for job in last.values():
                # A completed upload may have started a follow-on publish that nothing has
                # touched yet: it is New.
                if job.followOnHandle and job.followOnHandle not in finals:
                    finals[job.followOnHandle] = Final(job.companyHandle, "New", None, False, 0)
            advance(sum(1 for command in batch if isinstance(command, Submit)))
    events = ledger.event_count()
    follow_ons = len(finals) - jobs
    click.echo(
        f"Filled {path} with {events:,} events: {jobs:,} jobs submitted by {companies} companies", nl=False
    )
    click.echo(f" and the {follow_ons:,} follow-on publishes they started." if follow_ons else ".")
    click.echo(
        f"The simulated day runs from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC (seed {seed})."
    )
    click.echo()
    _print_summary(finals)
    click.echo()
    click.echo("Next, try:")
    for label, command in next_commands(path, finals):
        click.echo(f"  {label}:")
        click.echo(f"    {command}")


def _print_summary(finals: dict[str, Final]) -> None:
    by_state: Counter[tuple[str, str]] = Counter()
    deleted: Counter[tuple[str, str]] = Counter()
    for final in finals.values():
        key = (final.state, final.outcome or "")
        by_state[key] += 1
        deleted[key] += final.deleted
    keys = [(state, "") for state in LIVE] + [("Done", outcome) for outcome in OUTCOMES]
    rows: list[dict[str, Any]] = [
        {"state": s, "outcome": o, "jobs": by_state[(s, o)], "of them deleted": deleted[(s, o)]}
        for s, o in keys
        if by_state[(s, o)]
    ]
    rows.append(
        {"state": "total", "outcome": "", "jobs": len(finals), "of them deleted": sum(deleted.values())}
    )
    click.echo("Jobs by state and outcome:")
    emit_table(rows, ["state", "outcome", "jobs", "of them deleted"])
    click.echo()

    columns = ["company", "jobs", "live", *OUTCOMES, "deleted"]
    per_company: dict[str, Counter[str]] = {}
    for final in finals.values():
        counts = per_company.setdefault(final.company, Counter())
        counts["jobs"] += 1
        counts["live" if final.state in LIVE else final.outcome or "live"] += 1
        counts["deleted"] += final.deleted
    company_rows: list[dict[str, Any]] = [
        {"company": company, **{column: counts[column] for column in columns[1:]}}
        for company, counts in sorted(per_company.items(), key=lambda item: -item[1]["jobs"])
    ]
    click.echo("Per company (live = New, Running or Stopping; the rest are Done, by outcome):")
    emit_table(company_rows, columns)


def _first(finals: dict[str, Final], test: Callable[[Final], bool]) -> str | None:
    return next((handle for handle, final in finals.items() if test(final)), None)


def next_commands(path: str, finals: dict[str, Final]) -> list[tuple[str, str]]:
    """Commands worth running next on the demo ledger, with real handles from it."""
    base = f"jobledger --db {shlex.quote(path)}"
    counts = Counter(final.company for final in finals.values())
    busiest = counts.most_common(1)[0][0] if counts else "acme"
    # Handles are in time order of submission; the latest running run is the liveliest to show.
    running = [
        h for h, f in finals.items() if f.state == "Running" and not f.deleted and 0 < f.progress < 100
    ]
    running = running or [h for h, f in finals.items() if f.state in LIVE]
    company = finals[running[-1]].company if running else busiest
    commands = [
        (
            f"What {company} is running now, with progress and ETA",
            f"{base} active --company {shlex.quote(company)}",
        ),
        (f"The latest job logs of {company}", f"{base} logs --company {shlex.quote(company)} --limit 10"),
    ]
    if running:
        commands.append(("The state of a running job", f"{base} show {shlex.quote(running[-1])}"))
    failed = _first(finals, lambda f: f.outcome == "errors" and not f.deleted)
    failed = failed or _first(finals, lambda f: f.outcome in ("warnings", "fatal"))
    if failed:
        commands.append(("The detail rows of a job that had errors", f"{base} details {shlex.quote(failed)}"))
    stopped = _first(finals, lambda f: f.outcome == "stopped" and not f.deleted)
    if stopped:
        commands.append(("Every event of a job that was stopped", f"{base} history {shlex.quote(stopped)}"))
    commands.append(("Jobs that hit a fatal error", f"{base} logs --outcome fatal --limit 10"))
    return commands[:6]
