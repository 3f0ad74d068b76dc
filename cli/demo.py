"""`jobledger demo`: fill a new ledger with a seeded, realistic day of IPS jobs, then summarise it
and suggest what to look at next."""

from __future__ import annotations

import gc
import shlex
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import click

from jobledger.cli.group import Config, cli, pass_config
from jobledger.cli.options import ISO_TIME, counts
from jobledger.cli.render import emit_table
from jobledger.cli.views import progress_bar
from jobledger.demo import record_demo
from jobledger.domain.aggregates import Aggregate
from jobledger.domain.commands import Command, Execute, Fire, Submit
from jobledger.domain.constants import OUTCOMES
from jobledger.domain.job import Job
from jobledger.domain.limits import EARLIEST
from jobledger.domain.schedule import Schedule
from jobledger.service.opening import open_projector
from jobledger.store.config import is_postgres_url

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


# The simulated day needs the day before --end, and its schedules fire up to a month after it.
DEMO_FIRST_END = EARLIEST + timedelta(days=1)
DEMO_LAST_END = datetime(9999, 11, 29, 23, 59, 59, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _check_end(ctx: click.Context, param: click.Parameter, end: datetime | None) -> datetime | None:
    if end is not None and not DEMO_FIRST_END <= end <= DEMO_LAST_END:
        raise click.BadParameter(
            f"{end.isoformat()} is out of range: the demo's day ends from {_iso(DEMO_FIRST_END)}"
            f" to {_iso(DEMO_LAST_END)}",
            ctx,
            param,
        )
    return end


@cli.command("demo")
@click.option("--jobs", type=counts(1), default=200, show_default=True, help="Runs to simulate.")
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
@click.option(
    "--end",
    type=ISO_TIME,
    default=None,
    callback=_check_end,
    help="When the simulated day ends (ISO 8601; default now). With the same seed, the same ledger.",
)
@click.option("--db", default=None, help="Ledger to fill (overrides the global --db); must be new or empty.")
@pass_config
def demo(config: Config, jobs: int, companies: int, seed: int, end: datetime | None, db: str | None) -> None:
    """Fill a new ledger with a realistic, reproducible day of jobs and summarise it.

    Every payload kind, several companies and servers, progress with task rows, detail rows of
    many log types, warnings, errors, fatal errors, stops and deletes; about a tenth of the runs
    are still New, Running or Stopping at the end. The busiest companies also keep recurring and
    one-off schedules (some paused, one resumed, one deleted, one executed by hand), and the
    scheduler ticks every hour, firing runs that are driven like the others. The simulated day
    ends now, or at --end.
    """
    config.named_db(db)
    config.refuse_server()  # with either --server or JOBLEDGER_SERVER: a server fills no file here
    path = config.db
    ledger = Config(path, config.views).ledger(create=True)
    existing = ledger.event_count()
    if existing:
        raise click.ClickException(
            f"{path} already holds {existing:,} events; the demo fills only a new ledger:"
            " give a new --db path"
        )
    if end is not None:
        # A simulated day into a new ledger: an --end in the future is the user's choice, not a
        # runner's wrong clock, so the clock-skew tolerance does not apply to it.
        ledger.max_clock_skew = None
    end = (end or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    start = end - timedelta(days=1)
    finals: dict[str, Final] = {}
    schedules = ScheduleTally()
    with progress_bar(jobs, "Recording demo jobs") as advance, _few_collections():
        for batch, states in record_demo(ledger.record, jobs, companies, seed, start):
            schedules.add(batch, states, finals)
            last = {state.jobHandle: state for state in states if isinstance(state, Job)}
            for handle, job in last.items():
                finals[handle] = Final.of(job)
            for job in last.values():
                # A completed upload may have started a follow-on publish that nothing has
                # touched yet: it is New.
                if job.followOnHandle and job.followOnHandle not in finals:
                    finals[job.followOnHandle] = Final(job.companyHandle, "New", None, False, 0)
            advance(sum(1 for command in batch if isinstance(command, Submit) and not command.schedules))
    events = ledger.event_count()
    if config.views or not is_postgres_url(path):
        # The file is handed over with its views caught up, for sqlite3 or Datasette to open as is.
        projector = open_projector(ledger, config.views)
        with progress_bar(projector.lag(), "Catching up views") as advance:
            projector.catch_up(progress=advance)
        projector.db.close()
    follow_ons = len(finals) - jobs - len(schedules.runs)
    parts = [f"{jobs:,} jobs submitted by {companies} companies"]
    if follow_ons:
        parts.append(f"the {follow_ons:,} follow-on publishes they started")
    if schedules.runs:
        parts.append(f"the {len(schedules.runs):,} runs their {len(schedules.states)} schedules fired")
    listed = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
    click.echo(f"Filled {path} with {events:,} events: {listed}.")
    click.echo(
        f"The simulated day runs from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC (seed {seed})."
    )
    click.echo()
    _print_summary(finals)
    if schedules.states:
        click.echo()
        _print_schedules(schedules, finals)
    click.echo()
    click.echo("Next, try:")
    for label, command in next_commands(path, finals, bool(schedules.states)):
        click.echo(f"  {label}:")
        click.echo(f"    {command}")


class ScheduleTally:
    """What the summary needs of the schedules: their last states, the runs they fired, the ticks."""

    def __init__(self) -> None:
        self.states: dict[str, Schedule] = {}
        self.runs: set[str] = set()
        self.executed = 0
        self.ticks: set[datetime | None] = set()  # the times of the scheduler's Fire commands

    def add(self, batch: Sequence[Command], states: Sequence[Aggregate], finals: dict[str, Final]) -> None:
        """Take in one recorded batch; a run a schedule fired is New until a command touches it."""
        for command, state in zip(batch, states, strict=True):
            if not isinstance(state, Schedule):
                continue
            if isinstance(command, Fire):
                self.ticks.add(command.at)
            previous = self.states.get(state.jobHandle)
            if state.lastRunHandle and state.runCount > (previous.runCount if previous else 0):
                self.runs.add(state.lastRunHandle)
                self.executed += isinstance(command, Execute)
                if state.lastRunHandle not in finals:
                    finals[state.lastRunHandle] = Final(state.companyHandle, "New", None, False, 0)
            self.states[state.jobHandle] = state


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
    emit_table(rows, ["state", "outcome", "jobs", "of them deleted"], count=False)
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
    emit_table(company_rows, columns, count=False)


TRIGGER_STATES = ("Normal", "Paused", "Complete")


def _print_schedules(schedules: ScheduleTally, finals: dict[str, Final]) -> None:
    def row(label: str, chosen: list[Schedule]) -> dict[str, Any]:
        recurring = sum(1 for s in chosen if s.execSchedule is not None)
        return {
            "trigger state": label,
            "recurring": recurring,
            "one-off": len(chosen) - recurring,
            "schedules": len(chosen),
            "runs fired": sum(s.runCount for s in chosen),
        }

    states = list(schedules.states.values())
    rows = [row(t, [s for s in states if s.triggerState == t and not s.deleted]) for t in TRIGGER_STATES]
    rows.append(row("deleted", [s for s in states if s.deleted]))
    rows.append(row("total", states))
    click.echo("Schedules by trigger state (Complete: one-offs that fired; runs include manual executes):")
    emit_table(rows, ["trigger state", "recurring", "one-off", "schedules", "runs fired"], count=False)
    live = sum(1 for handle in schedules.runs if finals[handle].state in LIVE and not finals[handle].deleted)
    click.echo()
    click.echo(
        f"Runs fired by schedules: {len(schedules.runs):,}, by {len(schedules.ticks)} hourly scheduler ticks"
        f" and {schedules.executed} manual execute{'s' if schedules.executed != 1 else ''};"
        f" {live:,} of them still live (they are in the tables above too)."
    )


def _first(finals: dict[str, Final], test: Callable[[Final], bool]) -> str | None:
    return next((handle for handle, final in finals.items() if test(final)), None)


def next_commands(path: str, finals: dict[str, Final], schedules: bool = False) -> list[tuple[str, str]]:
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
    commands = commands[:6]
    if schedules:
        commands.append(
            (
                "The schedules that may still fire, then a scheduler tick firing what is due now",
                f"{base} scheduled && {base} scheduler tick",
            )
        )
    return commands
