"""Append throughput of JobLedger on SQLite, against raw sqlite3 writing the very same rows.

Run by hand, for example:

    python bench/append.py --jobs 2000
    python bench/append.py --jobs 6000 --batch-jobs 20000 --chunk-jobs 5000
    python bench/append.py --jobs 500 --profile single     # cProfile one ledger pass instead

Each job has a realistic lifecycle (bench/workload.py): submit, start, 5 progress updates with a
task row, 10 job-log detail rows with asset names, complete; 18 events, one per command.

Part A (single): every command is its own transaction, through JobLedger's methods (or
`record([command])`, which the methods call). Part B, the raw baseline, opens another fresh file
in WAL mode with `synchronous` at its default (FULL), as eventsourcing does, with eventsourcing's
`stored_events` table shape, and inserts the very rows the ledger stores (same values and byte
sizes, same order), one row per BEGIN/COMMIT.

Part C (batch): the same kind of stream through `JobLedger.record(commands)` in one call (or in
chunks of --chunk-jobs jobs), against raw `executemany` of the same rows in the same chunks, one
transaction each. A record() of 10,000 commands or more appends from a child process while it
decides (domain/appender.py); the ledger's CPU time then includes that process's.

The rows come from an untimed reference pass of the ledger (batch API) before the timed passes;
every timed ledger pass must store exactly those rows, so both sides did the same work. In a
timed pass the ledger and the raw baseline run alternately, slice by slice (--slice commands in
parts A/B, one chunk in part C), switching which goes first: an fsync on a machine shared with
other writers can take 0.2 ms one second and 2 ms the next, and interleaving makes both sides see
the same conditions. Each measurement is repeated --repeats times on fresh files; the report gives
medians with min and max, the ratio ledger/raw of the medians, and the CPU time per event (time
the process spent on the CPU, steadier than wall time when the machine is busy).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import platform
import pstats
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import TypeVar

import contention
import workload

import jobledger.domain
from jobledger.domain.commands import Command, Complete, LogDetail, Start, Submit, UpdateProgress
from jobledger.service.ledger import JobLedger

Row = tuple[str, int, str, bytes]
T = TypeVar("T")

TABLE = (
    "CREATE TABLE IF NOT EXISTS stored_events ("
    "originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
    "PRIMARY KEY (originator_id, originator_version))"
)
INSERT = "INSERT INTO stored_events VALUES (?,?,?,?)"
SELECT = "SELECT originator_id, originator_version, topic, state FROM stored_events ORDER BY rowid"

SINGLE_TARGET = 0.7
BATCH_TARGET = 0.5


# --- timing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Elapsed:
    """Wall-clock seconds (time.perf_counter, the measure) and this process's CPU seconds."""

    wall: float
    cpu: float


def clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def child_cpu_seconds() -> float:
    """CPU seconds of this process's finished children (the ledger's bulk appender)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def since(start: tuple[float, float]) -> Elapsed:
    wall, cpu = clocks()
    return Elapsed(wall - start[0], cpu - start[1])


# --- the ledger side ---------------------------------------------------------------------------


def method_driver(ledger: JobLedger) -> Callable[[Command], object]:
    """Send one command through the public method a job runner would call."""

    def drive(c: Command) -> object:
        match c:
            case Submit():
                return ledger.submit(
                    c.company or "",
                    c.name,
                    c.payload,
                    user_email=c.user_email,
                    locale=c.locale,
                    description=c.description,
                    at=c.at,
                )
            case Start():
                return ledger.start(c.handle, c.server, total_size=c.total_size, at=c.at)
            case UpdateProgress():
                return ledger.update_progress(c.handle, c.percent, message=c.message, tasks=c.tasks, at=c.at)
            case LogDetail():
                return ledger.log_detail(
                    c.handle,
                    c.log_type,
                    c.message,
                    asset_name=c.asset_name,
                    asset_type=c.asset_type,
                    asset_handle=c.asset_handle,
                    aux=c.aux,
                    at=c.at,
                )
            case Complete():
                return ledger.complete(c.handle, fatal=c.fatal, message=c.message, at=c.at)
        raise TypeError(f"the benchmark has no method for {type(c).__name__}")

    return drive


def record_driver(ledger: JobLedger) -> Callable[[Command], object]:
    """Send one command as a batch of one."""
    return lambda command: ledger.record([command])


DRIVERS = {"methods": method_driver, "record": record_driver}


class LedgerWriter:
    """A JobLedger on a fresh file, fed one command per transaction or a batch per call."""

    def __init__(self, path: Path, api: str = "methods") -> None:
        self.ledger = JobLedger(str(path))
        self.drive = DRIVERS[api](self.ledger)

    def single(self, commands: Sequence[Command]) -> None:
        drive = self.drive
        for command in commands:
            drive(command)

    def batch(self, commands: Sequence[Command]) -> None:
        self.ledger.record(commands)

    def close(self) -> None:
        self.ledger.close()


class RawWriter:
    """Plain sqlite3 on a fresh file like eventsourcing's: WAL, synchronous at its default (FULL)."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)  # autocommit: we say BEGIN and COMMIT
        mode = self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise RuntimeError(f"{path}: could not switch to WAL (got {mode})")
        self.conn.execute(TABLE)
        self.cursor = self.conn.cursor()

    def single(self, rows: Sequence[Row]) -> None:
        cursor = self.cursor
        for row in rows:
            cursor.execute("BEGIN")
            cursor.execute(INSERT, row)
            cursor.execute("COMMIT")

    def batch(self, rows: Sequence[Row]) -> None:
        self.cursor.execute("BEGIN")
        self.cursor.executemany(INSERT, rows)
        self.cursor.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


class Stopwatch:
    """Wall-clock and CPU time summed over many timed sections."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def time(self, work: Callable[[], None]) -> None:
        started = clocks()
        work()
        elapsed = since(started)
        self.wall += elapsed.wall
        self.cpu += elapsed.cpu

    def elapsed(self) -> Elapsed:
        return Elapsed(self.wall, self.cpu)


def paired(
    ledger_work: Sequence[Callable[[], None]], raw_work: Sequence[Callable[[], None]], rep: int
) -> tuple[Elapsed, Elapsed]:
    """Run the ledger's and the raw baseline's slices alternately, switching which goes first.

    On a machine shared with other writers, the time an fsync takes changes from second to
    second; interleaving short slices lets both sides see the same conditions.
    """
    ledger, raw = Stopwatch(), Stopwatch()
    gc.collect()
    for index, (ledger_slice, raw_slice) in enumerate(zip(ledger_work, raw_work, strict=True)):
        if (index + rep) % 2 == 0:
            ledger.time(ledger_slice)
            raw.time(raw_slice)
        else:
            raw.time(raw_slice)
            ledger.time(ledger_slice)
    return ledger.elapsed(), raw.elapsed()


def stored_rows(path: Path) -> list[Row]:
    """Every stored event row of a file, in insertion order."""
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(SELECT).fetchall()


def reference_rows(path: Path, stream: Sequence[Command], chunk: int) -> list[Row]:
    """The rows the ledger stores for the stream, recorded untimed through the batch API."""
    writer = LedgerWriter(path)
    try:
        for commands in chunked(stream, chunk):
            writer.batch(commands)
    finally:
        writer.close()
    rows = stored_rows(path)
    cleanup(path)
    if len(rows) != len(stream):
        raise SystemExit(
            f"the ledger stored {len(rows)} events for {len(stream)} commands; the benchmark needs"
            " exactly one event per command (see bench/workload.py) to mirror its transactions"
        )
    return rows


# --- measuring and reporting -------------------------------------------------------------------


@dataclass
class Series:
    """Throughputs (events/s, wall clock) and CPU cost (microseconds/event) of the repeats."""

    label: str
    rates: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)

    def add(self, events: int, elapsed: Elapsed) -> None:
        self.rates.append(events / elapsed.wall)
        self.cpu_us.append(elapsed.cpu / events * 1e6)

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    def line(self) -> str:
        return (
            f"  {self.label:<30} median {self.median:>9,.0f} events/s"
            f" (min {min(self.rates):,.0f}, max {max(self.rates):,.0f};"
            f" runs {', '.join(f'{r:,.0f}' for r in self.rates)});"
            f" CPU {statistics.median(self.cpu_us):.1f} us/event"
        )


def compare(title: str, ledger: Series, raw: Series, target: float) -> float:
    """Print one comparison; return the ratio of medians."""
    ratio = ledger.median / raw.median
    paired = [a / b for a, b in zip(ledger.rates, raw.rates, strict=True)]
    verdict = "meets" if ratio >= target else "MISSES"
    print(title)
    print(ledger.line())
    print(raw.line())
    print(
        f"  ratio ledger/raw (medians)  {ratio:.2f}  {verdict} the target {target}"
        f" (per-run pairs: {', '.join(f'{r:.2f}' for r in paired)})"
    )
    extra = statistics.median(ledger.cpu_us) - statistics.median(raw.cpu_us)
    print(f"  CPU time the ledger adds per event: {extra:.1f} us (steadier than wall time on a busy machine)")
    return ratio


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024


def chunked(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """Slices of at most `size` items (all of them if size is 0)."""
    if size <= 0 or size >= len(items):
        return [items]
    return [items[i : i + size] for i in range(0, len(items), size)]


def _output(*command: str) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def describe_environment(tmp: Path) -> None:
    """What the figures were measured on, and which jobledger code was measured."""
    source = Path(jobledger.domain.__path__[0]).resolve()
    commit = _output("git", "-C", str(source), "rev-parse", "--short", "HEAD")
    if commit:
        dirty = _output("git", "-C", str(source), "status", "--porcelain", "--", ".")
        commit = f" (git {commit}{', with uncommitted changes' if dirty else ''})"
    fstype = _output("findmnt", "-n", "-o", "FSTYPE", "-T", str(tmp)) or "?"
    print(
        f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, msgspec {version('msgspec')},"
        f" eventsourcing {version('eventsourcing')}, {os.cpu_count()} CPUs"
    )
    print(f"jobledger.domain from {source}{commit}")
    print(f"files in {tmp} ({fstype}); load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def check(path: Path, reference: Sequence[Row], how: str) -> None:
    """A timed ledger pass must have stored exactly the reference rows."""
    rows = stored_rows(path)
    if rows != reference:
        pairs = zip(rows, reference, strict=False)
        differing = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(rows), len(reference)))
        raise SystemExit(
            f"the ledger stored other rows {how} than through one batch ({len(rows)} vs {len(reference)}"
            f" rows; first difference at row {differing + 1}): batch and single paths disagree"
        )


def run_single(args: argparse.Namespace, tmp: Path) -> float:
    stream = workload.commands(args.jobs, seed=args.seed, in_flight=args.in_flight)
    print(
        f"\nParts A and B: one command per transaction, JobLedger (A) vs raw sqlite3 (B):"
        f" {args.jobs:,} jobs x {workload.EVENTS_PER_JOB} = {len(stream):,} events,"
        f" {args.in_flight} jobs in flight, via {args.single_api}; interleaved in slices of {args.slice:,}"
    )
    reference = reference_rows(tmp / "reference.db", stream, 1000 * workload.EVENTS_PER_JOB)
    ledger, raw = Series("JobLedger"), Series("raw sqlite3 (1 row per txn)")
    for rep in range(args.repeats):
        ledger_file, raw_file = tmp / f"single-ledger-{rep}.db", tmp / f"single-raw-{rep}.db"
        ledger_writer, raw_writer = LedgerWriter(ledger_file, args.single_api), RawWriter(raw_file)
        try:
            ledger_time, raw_time = paired(
                [partial(ledger_writer.single, c) for c in chunked(stream, args.slice)],
                [partial(raw_writer.single, r) for r in chunked(reference, args.slice)],
                rep,
            )
        finally:
            ledger_writer.close()
            raw_writer.close()
        check(ledger_file, reference, "one command per transaction")
        ledger.add(len(stream), ledger_time)
        raw.add(len(reference), raw_time)
        progress(rep, ledger, raw)
        cleanup(ledger_file, raw_file)
    sizes = [len(row[3]) for row in reference]
    print(
        f"  stored state: mean {statistics.mean(sizes):.0f} B, min {min(sizes)} B, max {max(sizes)} B"
        f" per event; {sum(sizes) / 1e6:.1f} MB in all"
    )
    ratio = compare("Parts A and B, result:", ledger, raw, SINGLE_TARGET)
    print(f"  peak RSS so far: {peak_rss_mb():.0f} MB")
    return ratio


def run_batch(args: argparse.Namespace, tmp: Path) -> float:
    jobs = args.batch_jobs or args.jobs
    stream = workload.commands(jobs, seed=args.seed, in_flight=args.in_flight)
    size = args.chunk_jobs * workload.EVENTS_PER_JOB
    command_chunks = chunked(stream, size)
    where = "one record() call" if len(command_chunks) == 1 else f"{len(command_chunks)} record() calls"
    print(
        f"\nPart C: batch API: {jobs:,} jobs = {len(stream):,} events in {where}"
        f" ({len(command_chunks[0]):,} commands each), {args.in_flight} jobs in flight"
    )
    reference = reference_rows(tmp / "reference.db", stream, size or 1000 * workload.EVENTS_PER_JOB)
    ledger, raw = Series("JobLedger.record()"), Series("raw sqlite3 executemany")
    for rep in range(args.repeats):
        ledger_file, raw_file = tmp / f"batch-ledger-{rep}.db", tmp / f"batch-raw-{rep}.db"
        ledger_writer, raw_writer = LedgerWriter(ledger_file), RawWriter(raw_file)
        children_cpu = child_cpu_seconds()
        try:
            ledger_time, raw_time = paired(
                [partial(ledger_writer.batch, c) for c in command_chunks],
                [partial(raw_writer.batch, r) for r in chunked(reference, size)],
                rep,
            )
        finally:
            ledger_writer.close()  # stops (and so reaps) the ledger's bulk appender, if it started one
            raw_writer.close()
        # A large record() appends from a child process: its CPU time is the ledger's too.
        ledger_time = Elapsed(ledger_time.wall, ledger_time.cpu + child_cpu_seconds() - children_cpu)
        check(ledger_file, reference, "in these record() calls")
        ledger.add(len(stream), ledger_time)
        raw.add(len(reference), raw_time)
        progress(rep, ledger, raw)
        cleanup(ledger_file, raw_file)
    ratio = compare("Part C, result:", ledger, raw, BATCH_TARGET)
    print(f"  peak RSS so far: {peak_rss_mb():.0f} MB")
    return ratio


def progress(rep: int, ledger: Series, raw: Series) -> None:
    print(
        f"  run {rep + 1}: ledger {ledger.rates[-1]:>9,.0f}  raw {raw.rates[-1]:>9,.0f} events/s"
        f"  ratio {ledger.rates[-1] / raw.rates[-1]:.2f}  (load average {os.getloadavg()[0]:.2f})",
        flush=True,
    )


def cleanup(*files: Path) -> None:
    """Remove a pass's database files (with their -wal and -shm) so the disk does not fill up."""
    for file in files:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{file}{suffix}").unlink(missing_ok=True)


def profile(args: argparse.Namespace, tmp: Path) -> None:
    """One ledger pass of a part under cProfile; print where the time goes."""
    if args.profile == "single":
        stream = workload.commands(args.jobs, seed=args.seed, in_flight=args.in_flight)
        writer = LedgerWriter(tmp / "profile.db", args.single_api)
        work = [partial(writer.single, stream)]
    else:
        stream = workload.commands(args.batch_jobs or args.jobs, seed=args.seed, in_flight=args.in_flight)
        writer = LedgerWriter(tmp / "profile.db")
        work = [partial(writer.batch, c) for c in chunked(stream, args.chunk_jobs * workload.EVENTS_PER_JOB)]
    profiler = cProfile.Profile()
    watch = Stopwatch()
    gc.collect()
    try:
        for piece in work:
            profiler.runcall(watch.time, piece)
    finally:
        writer.close()
    elapsed = watch.elapsed()
    print(
        f"\nProfile of part {args.profile}: {len(stream):,} events in {elapsed.wall:.2f} s"
        f" ({elapsed.cpu:.2f} s CPU) under cProfile"
    )
    if args.profile_out:
        profiler.dump_stats(args.profile_out)
        print(f"stats written to {args.profile_out}")
    stats = pstats.Stats(profiler).strip_dirs()
    for order in ("tottime", "cumulative"):
        stats.sort_stats(order).print_stats(args.profile_lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000, help="jobs in parts A/B (18 events each)")
    parser.add_argument("--batch-jobs", type=int, default=0, help="jobs in part C (default: --jobs)")
    parser.add_argument(
        "--chunk-jobs", type=int, default=0, help="part C: jobs per record() call (default 0: all in one)"
    )
    parser.add_argument("--in-flight", type=int, default=16, help="jobs running at once (interleaved)")
    parser.add_argument(
        "--slice", type=int, default=1000, help="parts A/B: commands per slice of the ledger/raw interleaving"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measurement")
    parser.add_argument("--parts", choices=("both", "single", "batch", "contention", "all"), default="both")
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="part D: the PostgreSQL server for the contention figures",
    )
    parser.add_argument(
        "--single-api",
        choices=tuple(DRIVERS),
        default="methods",
        help="part A: call submit/start/... (methods) or record([command])",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tmpdir", type=Path, default=None, help="where the database files go")
    parser.add_argument(
        "--profile", choices=("single", "batch"), help="profile one ledger pass of a part instead"
    )
    parser.add_argument("--profile-out", type=Path, help="also write the cProfile stats here")
    parser.add_argument("--profile-lines", type=int, default=30)
    args = parser.parse_args(argv)
    if (
        min(args.jobs, args.repeats, args.in_flight, args.slice) < 1
        or min(args.batch_jobs, args.chunk_jobs) < 0
    ):
        parser.error(
            "--jobs, --repeats, --in-flight and --slice must be positive; --batch-jobs, --chunk-jobs >= 0"
        )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="jobledger-bench-", dir=args.tmpdir) as name:
        tmp = Path(name)
        describe_environment(tmp)
        if args.profile:
            profile(args, tmp)
            return 0
        started = time.perf_counter()
        ratios = {}
        if args.parts in ("both", "single", "all"):
            ratios["single"] = run_single(args, tmp)
        if args.parts in ("both", "batch", "all"):
            ratios["batch"] = run_batch(args, tmp)
        if args.parts in ("contention", "all"):
            print("\nPart D: writers meeting on one running job (bench/contention.py), 100 rows each")
            contention.report_all(tmp, args.postgres, writers=(1, 8), appends=100)
    print(f"\nSummary ({time.perf_counter() - started:.0f} s in all, peak RSS {peak_rss_mb():.0f} MB):")
    if "single" in ratios:
        print(f"  one command per transaction: ledger/raw = {ratios['single']:.2f} (target {SINGLE_TARGET})")
    if "batch" in ratios:
        print(f"  batch record() vs executemany: ledger/raw = {ratios['batch']:.2f} (target {BATCH_TARGET})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
