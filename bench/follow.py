"""Commit-to-print latency of `jobledger events --follow`, on SQLite (polling) and PostgreSQL (NOTIFY).

Run by hand, for example:

    python bench/follow.py --events 40
    python bench/follow.py --postgres postgresql://postgres@127.0.0.1:5432/test

A follower runs as a child process (`events --follow --format ndjson`); this process submits one
run at a time at random gaps (50-300 ms, so commits land anywhere in a poll interval) and times
from the return of each submit (the commit) to the moment its line arrives from the follower.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import JobLedger


def measure(db: str, views: str | None, events: int, seed: int) -> list[float]:
    """Milliseconds from each commit to the follower printing it."""
    payload = decode_payload("optimizeImagesJob", '{"emailSetting": "All"}')
    ledger = JobLedger(db)
    ledger.submit("bench", "Warmup", payload)
    args = ["--db", db] + (["--views", views] if views else [])
    follower = subprocess.Popen(
        [sys.executable, "-c", "from jobledger.cli.main import cli; cli()", *args, "events", "--follow"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert follower.stdout is not None
    follower.stdout.readline()  # the warm-up event: the follower is reading
    rng = random.Random(seed)
    latencies = []
    try:
        for n in range(events):
            time.sleep(rng.uniform(0.05, 0.3))
            ledger.submit("bench", f"Run{n}", payload)
            committed = time.perf_counter()
            follower.stdout.readline()
            latencies.append((time.perf_counter() - committed) * 1000)
    finally:
        follower.terminate()
        follower.communicate(timeout=10)
        ledger.close()
    return latencies


def report(name: str, latencies: list[float]) -> None:
    """One line of figures."""
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    print(
        f"{name:11} mean {statistics.mean(latencies):7.1f} ms  median {statistics.median(latencies):7.1f}"
        f"  p99 {p99:7.1f}  max {ordered[-1]:7.1f}  ({len(latencies)} events)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        report("SQLite", measure(str(Path(folder) / "ledger.db"), None, options.events, options.seed))
        schema = f"bench_follow_{uuid.uuid4().hex[:8]}"
        url = f"{options.postgres}?schema={schema}"
        try:
            report("PostgreSQL", measure(url, str(Path(folder) / "views.db"), options.events, options.seed))
        finally:
            import psycopg

            with psycopg.connect(options.postgres, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
