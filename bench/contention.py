"""Writers meeting on one run: throughput, p99 latency and refusals against one writer, on SQLite and
PostgreSQL.

Run by hand, for example:

    python bench/contention.py --appends 100
    python bench/contention.py --postgres postgresql://postgres@127.0.0.1:5432/test --writers 1 4 8

Each writer is a process appending job-log rows (`log_detail`, one command per transaction) to the
same running job, as several workers of one upload job reporting their files. The figures: commands
per second over the whole run (first start to last finish), each command's latency (p50, p99), and
how many were refused (the target is none). One writer doing the same total work is the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Sequence
from pathlib import Path

from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import JobLedger

WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from jobledger.domain.errors import LedgerError
    from jobledger.service.ledger import JobLedger

    db, who, shared, appends, go = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), Path(sys.argv[5])
    ledger = JobLedger(db)
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.001)
    refused, latencies = 0, []
    started = time.perf_counter()
    for n in range(appends):
        t = time.perf_counter()
        try:
            ledger.log_detail(shared, "FileBegin", f"file {n}", asset_name=f"{who}-{n}.jpg")
        except LedgerError:
            refused += 1
        latencies.append(time.perf_counter() - t)
    finished = time.perf_counter()
    ledger.close()
    print(started, finished, refused, " ".join(f"{x:.6f}" for x in latencies))
    """
)


def run(db: str, writers: int, appends: int, folder: Path) -> tuple[float, float, float, int]:
    """(commands/s, p50 ms, p99 ms, refused) for `writers` processes of `appends` rows each."""
    ledger = JobLedger(db)
    shared = ledger.submit(
        "bench",
        f"Upload{uuid.uuid4().hex[:6]}",
        decode_payload("optimizeImagesJob", '{"emailSetting": "All"}'),
    )
    ledger.start(shared, "ips-0")
    ledger.close()
    go = folder / f"go-{uuid.uuid4().hex}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, db, str(w), shared, str(appends), str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(writers)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    go.touch()
    results = [proc.communicate()[0].split() for proc in procs]
    starts = [float(r[0]) for r in results]
    ends = [float(r[1]) for r in results]
    refused = sum(int(r[2]) for r in results)
    latencies = sorted(float(x) * 1000 for r in results for x in r[3:])
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    return len(latencies) / (max(ends) - min(starts)), statistics.median(latencies), p99, refused


def report_all(folder: Path, postgres: str, writers: Sequence[int], appends: int) -> None:
    """Print the figures for each store and number of writers; one writer doing the same total
    work is the baseline."""
    schema = f"bench_contention_{uuid.uuid4().hex[:8]}"
    stores = {"SQLite": str(folder / "contention.db"), "PostgreSQL": f"{postgres}?schema={schema}"}
    try:
        for store, db in stores.items():
            baseline = None
            for count in writers:
                rows = appends if count > 1 else appends * max(writers)
                rate, p50, p99, refused = run(db, count, rows, folder)
                baseline = baseline or rate
                print(
                    f"  {store:10} {count} writer(s) x {rows:4} rows: {rate:7.0f} commands/s"
                    f" ({rate / baseline:.2f}x one writer), p50 {p50:6.2f} ms, p99 {p99:7.2f} ms,"
                    f" refused {refused}"
                )
    finally:
        import psycopg

        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=100, help="rows per writer")
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        report_all(Path(name), options.postgres, options.writers, options.appends)


if __name__ == "__main__":
    main()
