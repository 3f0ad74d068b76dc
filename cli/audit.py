"""Audit commands: the global event log (`events`, with --follow), `wait`, the hash chain
(`audit digest|verify`), and `export` / `import`."""

from __future__ import annotations

import errno
import shutil
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import click

from jobledger.audit import archive
from jobledger.audit import chain as audit
from jobledger.audit.eventlog import EVENT_NAMES, Entry, EventLog
from jobledger.cli import terminal
from jobledger.cli.group import Config, cli, pass_config
from jobledger.cli.options import Seconds, counts
from jobledger.cli.remote_events import Printed, print_records, remote_events, warn_no_run
from jobledger.cli.render import chosen_format, emit_one, output_options
from jobledger.cli.signals import stop_on_signals
from jobledger.cli.views import progress_bar
from jobledger.domain.errors import UndecodableEventError, UnknownHandleError
from jobledger.domain.handles import job_id
from jobledger.domain.job import Job
from jobledger.service.records import job_record
from jobledger.store.reader import Undecodable, count_events, name_positions
from jobledger.store.wakeups import Polling

if TYPE_CHECKING:
    from jobledger.service.ledger import JobLedger

# `wait` exit codes: like timeout(1) for a timeout; 3 and 4 tell failures from stops.
EXIT_FAILED = 3
EXIT_STOPPED = 4
EXIT_TIMEOUT = 124


def _print_entries(entries: list[Entry], fmt: str, *, header: bool = True) -> None:
    if fmt == "ndjson":
        print_records([entry.record() for entry in entries], fmt)
        return
    # A table shows no fields: none are converted.
    heads = [
        {
            "position": e.position,
            "timestamp": e.event.timestamp,
            "event": e.name,
            "handle": e.handle,
            "version": e.event.originator_version,
        }
        for e in entries
    ]
    print_records(heads, fmt, header=header)


@cli.command("events")
@click.option("--after", type=counts(), default=0, show_default=True, help="Start after this position.")
@click.option("--company", default=None, help="Only events of this company's runs and schedules.")
@click.option("--job", default=None, help="Only events of this run or schedule (its handle).")
@click.option(
    "--event", "names", multiple=True, type=click.Choice(EVENT_NAMES), help="Only events of this name."
)
@click.option("--follow", is_flag=True, help="Keep printing new events until SIGINT or SIGTERM.")
@click.option("--limit", type=counts(1), default=None, help="Stop after this many events.")
@output_options("table", "ndjson", default=None)
@pass_config
def events(
    config: Config,
    after: int,
    company: str | None,
    job: str | None,
    names: tuple[str, ...],
    follow: bool,
    limit: int | None,
    fmt: str | None,
) -> None:
    """Print events in global order with their positions."""
    fmt = chosen_format(fmt, "ndjson")
    if config.server is not None:
        printed = Printed(fmt, after, limit)
        base = {"companyHandle": company, "jobHandle": job, "name": list(names) or None}
        stop = threading.Event()
        with stop_on_signals(stop):
            remote_events(config.client(), base, printed, follow, stop)
        if fmt == "table" and not follow and terminal.stdout_is_terminal():
            click.echo(f"({printed.shown} event{'' if printed.shown == 1 else 's'})")
        return
    reader = config.ledger().reader
    log = EventLog(reader)
    uuid = job_id(job) if job else None
    if job:
        try:
            config.ledger().get(job)
        except UnknownHandleError:
            warn_no_run(job, follow)

    def wanted(entry: Entry) -> bool:
        return (
            (company is None or entry.company == company)
            and (uuid is None or entry.event.originator_id == uuid)
            and (not names or entry.name in names)
        )

    stop = threading.Event()
    position = after
    shown = 0

    def show(batch: list[Entry]) -> None:
        nonlocal shown
        if batch:
            _print_entries(batch, fmt, header=not shown)  # one table header, however many polls
            shown += len(batch)

    # Listening starts before the first read, so no commit falls between a read and a wait.
    with stop_on_signals(stop), reader.wakeups() if follow else nullcontext(Polling()) as wakeups:
        while True:
            batch: list[Entry] = []
            # An event that does not decode is passed over, named on stderr (exit 0 all the same).
            skipped: list[Undecodable] = []
            for entry in log.entries(position, skipped=skipped):
                position = entry.position
                if wanted(entry):
                    batch.append(entry)
                if len(batch) >= 500 or (limit is not None and shown + len(batch) >= limit):
                    show(batch)
                    batch = []
                    if limit is not None and shown >= limit:
                        break
            show(batch)
            if skipped:
                position = max(position, skipped[-1].position)
                listed = name_positions(skipped)
                click.echo(
                    f"warning: {count_events(len(skipped))} passed over, not decodable: {listed}", err=True
                )
            done = limit is not None and shown >= limit
            if done or not follow or wakeups.wait(stop):
                break
    if fmt == "table" and not follow and terminal.stdout_is_terminal():
        click.echo(f"({shown} event{'' if shown == 1 else 's'})")


@cli.command("wait")
@click.argument("handle")
@click.option("--timeout", type=Seconds(0), default=None, help="Give up after S seconds (exit 124).")
@click.option(
    "--interval",
    type=Seconds(0.05),
    default=0.5,
    show_default=True,
    help="Seconds between polls.",
)
@output_options("table", "json", "ndjson")
@pass_config
def wait(config: Config, handle: str, timeout: float | None, interval: float, fmt: str) -> None:
    """Block until a run is Done and print its final state.

    Exit 0 on success or warnings, 3 on errors or a fatal error, 4 if it was stopped, 124 on timeout.
    """
    ledger = config.jobs()
    deadline = None if timeout is None else time.monotonic() + timeout
    stop = threading.Event()
    with stop_on_signals(stop):
        while True:
            job = ledger.get_job(handle)
            if job.state == "Done":
                break
            if stop.is_set():
                raise click.ClickException(f"interrupted; {handle} is {job.state}")
            if deadline is not None and time.monotonic() >= deadline:
                click.echo(
                    f"Error: timed out after {timeout}s; {handle} is {job.state} ({job.progress}%)", err=True
                )
                sys.exit(EXIT_TIMEOUT)
            time.sleep(interval if deadline is None else max(0.0, min(interval, deadline - time.monotonic())))
    emit_one(fmt, job_record(job))
    sys.exit(_exit_code(job))


def _exit_code(job: Job) -> int:
    if job.outcome == "stopped":
        return EXIT_STOPPED
    if job.outcome in ("errors", "fatal"):
        return EXIT_FAILED
    return 0


@cli.group("audit")
def audit_group() -> None:
    """Prove the history was not rewritten: the hash chain's head, and its verification."""


@audit_group.command("digest")
@pass_config
def digest(config: Config) -> None:
    """Print the head of the hash chain as POSITION:HEX; keep it somewhere else."""
    if config.server is not None:
        click.echo(config.client().get_json("/v1/audit/digest")["digest"])
        return
    click.echo(str(audit.digest(config.ledger().reader)))


def _parse_digest(ctx: click.Context, param: click.Parameter, value: str | None) -> audit.Digest | None:
    if value is None:
        return None
    try:
        return audit.Digest.parse(value)
    except ValueError as err:
        raise click.BadParameter(str(err), ctx, param) from None


@audit_group.command("verify")
@click.option(
    "--digest", "expected", callback=_parse_digest, default=None, help="A digest kept earlier (POSITION:HEX)."
)
@pass_config
def verify(config: Config, expected: audit.Digest | None) -> None:
    """Recompute the chain from the stored events; exit 1 naming the first position that differs."""
    ledger = config.ledger()
    undecodable: list[Undecodable] = []
    finding = audit.verify(ledger.reader, expected, undecodable=undecodable)
    unread = ""
    if undecodable:
        verb = "does" if len(undecodable) == 1 else "do"
        unread = f"{count_events(len(undecodable))} {verb} not decode: {name_positions(undecodable)}"
    if finding is not None:
        also = f"; {unread}" if unread else ""
        raise click.ClickException(f"the chain does not verify at {finding}{also}")
    head = audit.digest(ledger.reader)
    checked = f" and matches the digest at position {expected.ordinal}" if expected else ""
    if unread:
        # Linked, so appended through a ledger, yet unreadable here: exit 1 all the same.
        raise click.ClickException(f"the chain is intact ({head.ordinal} events{checked}) but {unread}")
    click.echo(f"chain intact: {head.ordinal} events{checked}; head {head}")


@cli.command("export")
@click.option("--company", default=None, help="Only this company's events (such a file cannot be imported).")
@click.option(
    "--after",
    type=counts(),
    default=0,
    show_default=True,
    help="Only events after this position.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="File to write (default stdout).",
)
@click.option(
    "--skip-undecodable",
    is_flag=True,
    help="Leave out events that do not decode, naming them on stderr (the file cannot be imported).",
)
@pass_config
def export(
    config: Config, company: str | None, after: int, output: str | None, skip_undecodable: bool
) -> None:
    """Write events as NDJSON envelopes in global order (position, ids, event, fields, chain link).

    An event that does not decode stops the export (exit 1, nothing written) unless
    --skip-undecodable is given: then every other event is written, a warning names the ones left
    out, and the exit code is 0.
    """
    ledger = config.ledger()
    total = max(ledger.head_position() - after, 0)
    skipped: list[Undecodable] | None = [] if skip_undecodable else None
    try:
        if output is None:
            # Spooled, so that a ledger that cannot be read leaves stdout empty rather than cut short.
            with tempfile.TemporaryFile() as spool:
                archive.export(ledger.reader, spool, company=company, after=after, skipped=skipped)
                spool.seek(0)
                shutil.copyfileobj(spool, sys.stdout.buffer)
            sys.stdout.flush()
        else:
            written = _export_to_file(ledger, output, total, company, after, skipped)
            click.echo(f"exported {written} events to {output}", err=True)
    except UndecodableEventError as err:
        raise click.ClickException(
            f"{err}; nothing was exported (--skip-undecodable exports every other event)"
        ) from None
    if skipped:
        click.echo(
            f"warning: {count_events(len(skipped))} left out, not decodable: {name_positions(skipped)}",
            err=True,
        )


def _write_problem(output: str, err: OSError) -> str:
    if err.errno == errno.ENOSPC:
        return f"cannot write {output}: no space left on the device holding it; nothing was exported"
    return f"cannot write {output}: {err.strerror or err}"


def _export_to_file(
    ledger: JobLedger,
    output: str,
    total: int,
    company: str | None,
    after: int,
    skipped: list[Undecodable] | None,
) -> int:
    """Export into a file (complete or not at all) or in place into a device or pipe; the count."""
    target = Path(output)
    # A device or a pipe (/dev/stdout, a FIFO) is written in place: renaming a file over it
    # would replace it. A regular file appears only complete, through a partial file beside it.
    direct = target.exists() and not target.is_file()
    partial = target if direct else Path(output + ".partial")
    try:
        out = partial.open("wb")
    except OSError as err:
        raise click.ClickException(f"cannot write {output}: {err.strerror or err}") from None
    try:
        with out, progress_bar(total, "exporting") as advance:
            written = archive.export(
                ledger.reader, out, company=company, after=after, progress=advance, skipped=skipped
            )
        if not direct:
            partial.replace(target)
    except BaseException as err:
        if not direct:
            partial.unlink(missing_ok=True)  # never leave a partial export behind
        if isinstance(err, OSError):  # a full disk, a folder removed meanwhile
            raise click.ClickException(_write_problem(output, err)) from None
        raise
    return written


@cli.command("import")
@click.argument("source", type=click.Path(dir_okay=False, allow_dash=True))
@pass_config
def import_(config: Config, source: str) -> None:
    """Append an export to an empty ledger, or one whose events are a prefix of it.

    The whole file is checked first (its chain, its events, the ledger's prefix); on any problem
    nothing is appended. Importing the same file again changes nothing.
    """
    ledger = config.ledger(create=True)
    if source == "-":
        appended = archive.import_file(ledger, sys.stdin.buffer)
    else:
        path = Path(source)
        if not path.is_file():
            raise click.ClickException(f"no export file at {source}")
        with progress_bar(archive.count_lines(path), "importing") as advance:
            appended = archive.import_path(ledger, path, progress=advance)
    click.echo(f"imported {appended} events; head {audit.digest(ledger.reader)}")
