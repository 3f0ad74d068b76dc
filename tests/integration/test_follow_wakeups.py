"""A follower of the event log wakes on a commit: LISTEN/NOTIFY on PostgreSQL (no polling), a short
poll on SQLite; and `events --follow` prints an event committed while it waits."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

from samples import OPTIMIZE, at

from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import JobLedger
from jobledger.store.wakeups import Listening, Polling

PAYLOAD = decode_payload("optimizeImagesJob", OPTIMIZE)


def test_a_postgresql_follower_listens_and_wakes_on_a_commit_not_on_a_timer(postgres_url: str) -> None:
    ledger, writer = JobLedger(postgres_url), JobLedger(postgres_url)
    try:
        stop = threading.Event()
        with ledger.reader.wakeups() as wakeups:
            assert isinstance(wakeups, Listening)
            # Nothing committed: it waits until told to stop (no poll ends the wait early).
            threading.Timer(0.5, stop.set).start()
            assert wakeups.wait(stop) is True
            stop.clear()
            # A commit made before the wait (while the follower was reading) wakes it at once.
            writer.submit("acme", "Nightly", PAYLOAD, at=at(0))
            assert wakeups.wait(stop) is False
            # A commit made during the wait wakes it.
            threading.Timer(0.2, lambda: writer.submit("acme", "Other", PAYLOAD, at=at(1))).start()
            guard = threading.Timer(20, stop.set)
            guard.start()
            assert wakeups.wait(stop) is False, "the commit's NOTIFY did not wake the follower"
            guard.cancel()
    finally:
        ledger.close()
        writer.close()


def test_an_sqlite_follower_polls(sqlite_db: str) -> None:
    ledger = JobLedger(sqlite_db)
    try:
        with ledger.reader.wakeups() as wakeups:
            assert isinstance(wakeups, Polling)
            stop = threading.Event()
            assert wakeups.wait(stop) is False
            stop.set()
            assert wakeups.wait(stop) is True
    finally:
        ledger.close()


def test_events_follow_prints_an_event_committed_while_it_waits(db: str, tmp_path: object) -> None:
    ledger = JobLedger(db)
    ledger.submit("acme", "First", PAYLOAD, at=at(0))
    args = ["--db", db] + (["--views", f"{tmp_path}/views.db"] if db.startswith("postgresql") else [])
    follower = subprocess.Popen(
        [sys.executable, "-c", "from jobledger.cli.main import cli; cli()", *args, "events", "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        first = json.loads(follower.stdout.readline())
        assert first["position"] == 1
        time.sleep(0.3)  # let it reach its wait
        ledger.submit("acme", "Second", PAYLOAD, at=at(1))
        second = json.loads(follower.stdout.readline())
        assert second["event"] == "Submitted" and second["handle"].startswith("acme||Second")
    finally:
        follower.terminate()
        _, errors = follower.communicate(timeout=10)  # closes the pipes
        ledger.close()
    assert follower.returncode == 0, errors
