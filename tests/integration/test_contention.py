"""Many writers on the same runs: no command that broke no rule is refused, and every event is stored
once. Eight processes log files to one running job; eight drive runs of their own while also logging
to a shared one. On SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from samples import OPTIMIZE

from jobledger.audit import chain as audit
from jobledger.domain.events import DetailLogged
from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import JobLedger

PAYLOAD = decode_payload("optimizeImagesJob", OPTIMIZE)
WRITERS = 8

# argv: db, writer number, shared run handle, own runs, logs to the shared run, ready file, go file.
# Prints "<commands recorded> <commands refused>"; a refusal's message goes to stderr.
WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from jobledger.domain.errors import LedgerError
    from jobledger.domain.payloads import decode_payload
    from jobledger.service.ledger import JobLedger

    db, who, shared = sys.argv[1], sys.argv[2], sys.argv[3]
    runs, logs = int(sys.argv[4]), int(sys.argv[5])
    ready, go = Path(sys.argv[6]), Path(sys.argv[7])
    payload = decode_payload("optimizeImagesJob", '{"emailSetting": "All"}')
    ledger = JobLedger(db)
    ready.touch()
    while not go.exists():
        time.sleep(0.002)
    done = refused = 0

    def attempt(call, *args, **kwargs):
        global done, refused
        try:
            result = call(*args, **kwargs)
        except LedgerError as err:
            refused += 1
            print(f"refused: {type(err).__name__}: {err}", file=sys.stderr)
            return None
        done += 1
        return result

    shared_logs = iter(range(logs))
    def log_shared():
        n = next(shared_logs, None)
        if n is not None:
            name = f"{who}-{n}.jpg"
            attempt(ledger.log_detail, shared, "FileBegin", f"writer {who} file {n}", asset_name=name)

    for r in range(runs):
        handle = attempt(ledger.submit, f"c{who}", f"job{r}", payload)
        log_shared()
        attempt(ledger.start, handle, f"ips-{who}")
        for percent in (25, 50, 75):
            log_shared()
            attempt(ledger.update_progress, handle, percent)
        log_shared()
        attempt(ledger.complete, handle)
    for _ in shared_logs:
        attempt(ledger.log_detail, shared, "FileBegin", f"writer {who} file {_}", asset_name=f"{who}-{_}.jpg")
    ledger.close()
    print(done, refused)
    """
)


def _run_writers(db: str, tmp_path: Path, shared: str, runs: int, logs: int) -> list[tuple[int, int]]:
    go = tmp_path / "go"
    workers = []
    for who in range(WRITERS):
        ready = tmp_path / f"ready-{who}"
        args = [sys.executable, "-c", WORKER, db, str(who), shared, str(runs), str(logs), str(ready), str(go)]
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        workers.append((ready, process))
    deadline = time.monotonic() + 60
    while not all(ready.exists() for ready, _ in workers):
        assert time.monotonic() < deadline, "the writers did not start"
        assert all(p.poll() is None for _, p in workers), [p.communicate() for _, p in workers]
        time.sleep(0.01)
    go.touch()
    counts = []
    for _, process in workers:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        assert stderr == "", stderr  # no refusal, no warning
        done, refused = (int(n) for n in stdout.split())
        counts.append((done, refused))
    return counts


def _shared_run(db: str) -> str:
    ledger = JobLedger(db)
    try:
        handle = ledger.submit("shared", "BigUpload", PAYLOAD)
        ledger.start(handle, "ips-0")
        return handle
    finally:
        ledger.close()


def _check(db: str, shared: str, expected_logs: int, expected_events: int) -> None:
    ledger = JobLedger(db)
    try:
        assert ledger.event_count() == expected_events
        logged = [e for e in ledger.history(shared) if isinstance(e, DetailLogged)]
        assert len(logged) == expected_logs
        assert len({e.assetName for e in logged}) == expected_logs, "every row stored once"
        assert audit.verify(ledger.reader) is None
    finally:
        ledger.close()


def test_eight_writers_logging_to_one_running_job_are_never_refused(db: str, tmp_path: Path) -> None:
    shared = _shared_run(db)

    counts = _run_writers(db, tmp_path, shared, runs=0, logs=100)

    assert counts == [(100, 0)] * WRITERS
    _check(db, shared, WRITERS * 100, 2 + WRITERS * 100)


def test_eight_writers_on_runs_of_their_own_and_one_shared_run_are_never_refused(
    db: str, tmp_path: Path
) -> None:
    shared = _shared_run(db)

    counts = _run_writers(db, tmp_path, shared, runs=4, logs=20)

    # Each writer: 4 runs of 6 commands (submit, start, 3 progress, complete) and 20 shared rows.
    assert counts == [(4 * 6 + 20, 0)] * WRITERS
    _check(db, shared, WRITERS * 20, 2 + WRITERS * (4 * 6 + 20))
