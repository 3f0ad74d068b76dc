"""Views benchmark (run by hand): rebuild speed and memory, query latency, against baselines.

    python bench/rebuild.py                 # 100,000 jobs = 1,000,000 events
    python bench/rebuild.py --jobs 10000    # a quicker look

In one run it
1. builds a ledger of JOBS x 10 events through the batch API (JobLedger.record), ~1% left running;
2. rebuilds every view (blue/green, Projector.rebuild) in a child process: events/s and peak RSS
   (of the folding process plus the writer process a large rebuild starts);
3. runs the raw pipeline on the same file: sqlite3 select of all stored events, msgspec decode,
   executemany of one row per event into one table, in one transaction: events/s;
4. runs the library's stock ProjectionRunner (a polling SQLite recorder, since SQLite cannot
   subscribe) on a 20,000-event ledger, one row per event into a tracking-recorder view: events/s;
5. times `active --company C`, `logs --company C --limit 100` in-process (median of many, the
   catch-up check included) and the catch-up check alone when already up to date.
Targets: rebuild >= 0.4 x raw and >= 25 x the stock runner, peak RSS <= 300 MB, queries <= 10 ms
and 20 ms, up-to-date check <= 2 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from eventsourcing.application import Application
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection, ProjectionRunner
from eventsourcing.sqlite import SQLiteTrackingRecorder
from eventsourcing.utils import get_topic

from jobledger.domain.aggregates import ALL_EVENT_TYPES
from jobledger.domain.commands import Command, Complete, LogDetail, Start, Submit, UpdateProgress
from jobledger.domain.events import TaskProgress
from jobledger.domain.handles import run_handle, run_name
from jobledger.domain.payloads import (
    ImageServingPublishJob,
    OptimizeImagesJob,
    UploadUrlsJob,
    VideoPublishJob,
)
from jobledger.projections import queries
from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector
from jobledger.store.codec import event_topic
from jobledger.store.config import store_env
from jobledger.store.sqlite_recorder import FastSQLiteApplicationRecorder

COMPANIES = ("47", "6", "1203", "388")
SERVERS = ("ips-1", "ips-2", "ips-3", "ips-4")
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PAYLOADS = (
    ImageServingPublishJob(publishType="Incremental", emailSetting="Error"),
    UploadUrlsJob(overwrite=True, readyForPublish=True, createMask=False, emailSetting="All"),
    OptimizeImagesJob(emailSetting="None"),
    VideoPublishJob(emailSetting="ErrorAndWarning"),
)
LOG_TYPES = ("UploadSuccess", "UploadSuccess", "UploadWarning", "UploadError", "DuplicateSkipped")


def job_commands(index: int, rng: random.Random) -> list[Command]:
    """Ten events: submit, start, 3 progress, 4 detail rows, complete (~1% stay running)."""
    company = COMPANIES[index % len(COMPANIES)]
    at = START + timedelta(seconds=index)
    name = f"Job-{index:07d}"
    handle = run_handle(company, run_name(name, at))
    step = timedelta(milliseconds=100)
    commands: list[Command] = [
        Submit(company=company, name=name, payload=PAYLOADS[index % len(PAYLOADS)], at=at),
        Start(handle=handle, server=SERVERS[index % len(SERVERS)], total_size=4, at=at + step),
    ]
    for n, percent in enumerate((25, 50, 75), 2):
        task = TaskProgress(taskType="Upload", numProcessed=n - 1, numPending=4 - n, progress=percent / 100)
        commands.append(UpdateProgress(handle=handle, percent=percent, tasks=[task], at=at + step * n))
    for n in range(4):
        commands.append(
            LogDetail(
                handle=handle,
                log_type=rng.choice(LOG_TYPES),
                message=f"file {n} processed",
                asset_name=f"img-{index}-{n}.tif",
                asset_type="MasterImage",
                asset_handle=f"{company}|a|{index}-{n}",
                at=at + step * (5 + n),
            )
        )
    if index % 101 == 0:  # ~1% stay running, spread over the companies
        commands.append(UpdateProgress(handle=handle, percent=90, at=at + step * 9))
    else:
        commands.append(Complete(handle=handle, at=at + step * 9))
    return commands


def build(path: str, jobs: int, chunk: int = 500) -> int:
    """A ledger of `jobs` jobs through the batch API; returns the number of events."""
    ledger = JobLedger(path)
    rng = random.Random(7)
    for first in range(0, jobs, chunk):
        batch: list[Command] = []
        for index in range(first, min(first + chunk, jobs)):
            batch.extend(job_commands(index, rng))
        ledger.record(batch)
    count = ledger.event_count()
    ledger.close()
    return count


def rebuild_child(path: str) -> None:
    """Run in a child process so its peak RSS is the rebuild's own."""
    ledger = JobLedger(path, create=False)
    projector = open_projector(ledger)
    started = time.perf_counter()
    read = projector.rebuild()
    seconds = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # A large rebuild writes from a child process: count its peak too (both at once, at worst).
    writer_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"events": read, "seconds": seconds, "rss_mb": rss_mb, "writer_mb": writer_mb}))


def rebuild(path: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--rebuild-child", path], capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def raw_pipeline(path: str) -> tuple[int, float]:
    """select all + msgspec decode + executemany one row per event into one table, one transaction."""
    decoders = {event_topic(cls): msgspec.msgpack.Decoder(cls).decode for cls in ALL_EVENT_TYPES}
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TABLE IF EXISTS raw_view")
    conn.execute(
        "CREATE TABLE raw_view (position INTEGER PRIMARY KEY, originator_id TEXT, version INTEGER,"
        " name TEXT, timestamp TEXT)"
    )
    started = time.perf_counter()
    conn.execute("BEGIN")
    count = 0
    cursor = conn.execute("SELECT rowid, originator_id, originator_version, topic, state FROM stored_events")
    while page := cursor.fetchmany(2000):
        rows = []
        for position, originator_id, version, topic, state in page:
            event = decoders[topic](state)
            rows.append((position, originator_id, version, type(event).__name__, event.timestamp.isoformat()))
        conn.executemany("INSERT INTO raw_view VALUES (?, ?, ?, ?, ?)", rows)
        count += len(rows)
    conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.execute("DROP TABLE raw_view")
    conn.close()
    return count, seconds


class PollingSubscription:
    """The notes' recipe for SQLite, which cannot LISTEN: poll for notifications after a position."""

    def __init__(self, recorder: Any, gt: int | None = None) -> None:
        self.recorder, self.position, self.stopped = recorder, gt or 0, threading.Event()
        self.buffer: list[Any] = []

    def __enter__(self) -> PollingSubscription:
        return self

    def __exit__(self, *args: object) -> None:
        self.stop()

    def __iter__(self) -> PollingSubscription:
        return self

    def __next__(self) -> Any:
        while not self.buffer:
            if self.stopped.is_set():
                raise StopIteration
            self.buffer = list(
                self.recorder.select_notifications(self.position, 500, inclusive_of_start=False)
            )
            if not self.buffer:
                time.sleep(0.01)
        note = self.buffer.pop(0)
        self.position = note.id
        return note

    def stop(self) -> None:
        self.stopped.set()


class PollingRecorder(FastSQLiteApplicationRecorder):
    """Our recorder with a polling subscribe(), so the stock runner can follow an SQLite ledger."""

    def subscribe(self, gt: int | None = None, topics: Any = ()) -> Any:
        return PollingSubscription(self, gt)


class EventRows(SQLiteTrackingRecorder):
    """A tracking-recorder view holding one row per event, written one transaction per event."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.create_table_statements.append(
            "CREATE TABLE IF NOT EXISTS event_rows (position INTEGER PRIMARY KEY, name TEXT)"
        )

    def add(self, name: str, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            c.execute("INSERT INTO event_rows VALUES (?, ?)", (tracking.notification_id, name))

    def count(self) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT COUNT(*) FROM event_rows")
            return int(c.fetchone()[0])


class EventRowsProjection(Projection[EventRows]):
    """The stock way: process_event per event."""

    name = "eventrows"

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.add(type(domain_event).__name__, tracking)


def stock_runner(folder: Path, jobs: int) -> tuple[int, float]:
    """The library's ProjectionRunner folding one row per event, on a ledger of its own."""
    path = str(folder / "stock.db")
    count = build(path, jobs)
    env = {
        **store_env(path),
        "APPLICATION_RECORDER_TOPIC": get_topic(PollingRecorder),
        "EVENTROWS_PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "EVENTROWS_SQLITE_DBNAME": str(folder / "stock_view.db"),
    }
    started = time.perf_counter()
    with ProjectionRunner(
        application_class=Application,  # plain Application, configured by env like JobLedger
        projection_class=EventRowsProjection,
        view_class=EventRows,
        env=env,
    ) as runner:
        while runner.projection.view.count() < count:
            time.sleep(0.05)
        seconds = time.perf_counter() - started
    return count, seconds


def median_ms(fn: Any, repeat: int = 50) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def query_times(path: str) -> dict[str, float]:
    projector = open_projector(JobLedger(path, create=False))
    projector.catch_up()
    company = COMPANIES[0]

    def active() -> Any:
        projector.catch_up()
        return queries.active_jobs(projector.db, company=company)

    def logs() -> Any:
        projector.catch_up()
        return queries.job_logs(projector.db, company=company, limit=100)

    return {
        "active_rows": len(active()),
        "active_ms": median_ms(active),
        "logs_ms": median_ms(logs),
        "check_ms": median_ms(projector.catch_up, 200),
    }


def demo_seconds(folder: Path, jobs: int) -> float:
    started = time.perf_counter()
    jobledger = Path(sys.executable).parent / "jobledger"
    subprocess.run(
        [str(jobledger), "--db", str(folder / "demo.db"), "demo", "--jobs", str(jobs)],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument(
        "--stock-jobs", type=int, default=2_000, help="jobs for the stock runner (x10 events)"
    )
    parser.add_argument("--demo-jobs", type=int, default=100_000)
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--rebuild-child", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rebuild_child:
        rebuild_child(args.rebuild_child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = str(folder / "ledger.db")
        started = time.perf_counter()
        events = build(path, args.jobs)
        print(f"built {events:,} events ({args.jobs:,} jobs) in {time.perf_counter() - started:.1f}s")

        ours = rebuild(path)
        ours_rate = ours["events"] / ours["seconds"]
        print(
            f"rebuild: {ours['events']:,.0f} events in {ours['seconds']:.2f}s = {ours_rate:,.0f} events/s,"
            f" peak RSS {ours['rss_mb'] + ours['writer_mb']:.0f} MB"
            f" ({ours['rss_mb']:.0f} MB folding + {ours['writer_mb']:.0f} MB in the writer process)"
        )
        raw_count, raw_seconds = raw_pipeline(path)
        raw_rate = raw_count / raw_seconds
        print(f"raw pipeline: {raw_count:,} events in {raw_seconds:.2f}s = {raw_rate:,.0f} events/s")
        stock_count, stock_seconds = stock_runner(folder, args.stock_jobs)
        stock_rate = stock_count / stock_seconds
        print(
            f"stock ProjectionRunner: {stock_count:,} events in {stock_seconds:.2f}s"
            f" = {stock_rate:,.0f} events/s"
        )
        print(
            f"ratios: rebuild/raw = {ours_rate / raw_rate:.2f} (target >= 0.4),"
            f" rebuild/stock = {ours_rate / stock_rate:.1f} (target >= 25)"
        )

        times = query_times(path)
        print(
            f"queries: active --company ({times['active_rows']:.0f} rows) {times['active_ms']:.2f} ms"
            f" (target <= 10), logs --company --limit 100 {times['logs_ms']:.2f} ms (target <= 20),"
            f" up-to-date check {times['check_ms']:.3f} ms (target <= 2)"
        )
        if not args.skip_demo:
            print(
                f"demo --jobs {args.demo_jobs:,}: {demo_seconds(folder, args.demo_jobs):.1f}s (target <= 60)"
            )


if __name__ == "__main__":
    main()
