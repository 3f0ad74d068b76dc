"""Two writers on one store: the loser of a race reloads and decides again; two processes never see
"database is locked"."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from samples import OPTIMIZE, at

from jobledger.audit import chain as audit
from jobledger.domain.errors import InvalidTransitionError, RuleError
from jobledger.domain.events import ProgressUpdated, Started, Submitted
from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import JobLedger

PAYLOAD = decode_payload("optimizeImagesJob", OPTIMIZE)
OpenLedger = Callable[[], JobLedger]


def test_when_two_ledgers_start_one_job_the_loser_reports_that_it_is_running(
    open_ledger: OpenLedger,
) -> None:
    a, b = open_ledger(), open_ledger()
    handle = a.submit("acme", "nightly", PAYLOAD, at=at(0))  # a now holds the job, New, in its cache

    b.start(handle, "srv-b", at=at(1))

    with pytest.raises(InvalidTransitionError, match=r"cannot start job .*: it is Running"):
        a.start(handle, "srv-a", at=at(2))
    history = b.history(handle)
    assert [type(e) for e in history].count(Started) == 1
    assert b.get(handle).serverName == "srv-b"


def test_the_event_count_is_still_the_number_of_events_after_a_lost_race(open_ledger: OpenLedger) -> None:
    a, b = open_ledger(), open_ledger()
    handle = a.submit("acme", "nightly", PAYLOAD, at=at(0))
    b.start(handle, "srv-b", at=at(1))
    with pytest.raises(InvalidTransitionError):
        a.start(handle, "srv-a", at=at(2))  # a's first append conflicts, then the rule refuses

    a.update_progress(handle, 10, at=at(3))

    assert len(a.history(handle)) == 3
    assert a.event_count() == 3
    assert b.event_count() == 3


def test_a_stale_ledger_reloads_and_appends_its_progress_at_the_next_version(open_ledger: OpenLedger) -> None:
    a, b = open_ledger(), open_ledger()
    handle = a.submit("acme", "nightly", PAYLOAD, at=at(0))
    a.start(handle, "srv1", at=at(1))  # a caches the job at version 2
    b.update_progress(handle, 30, at=at(2))  # version 3, unseen by a

    job = a.update_progress(handle, 60, message="from a", at=at(3))

    assert (job.version, job.progress, job.progressMessage) == (4, 60, "from a")
    history = b.history(handle)
    assert [e.originator_version for e in history] == [1, 2, 3, 4]
    assert [e.progress for e in history if isinstance(e, ProgressUpdated)] == [30, 60]
    assert b.get(handle) == job


def test_a_stale_ledger_completes_a_job_that_another_ledger_started(open_ledger: OpenLedger) -> None:
    a, b = open_ledger(), open_ledger()
    handle = a.submit("acme", "nightly", PAYLOAD, at=at(0))  # a caches the job as New

    b.start(handle, "srv1", at=at(1))

    # The job is Running, so completing it is allowed: a must not refuse on its stale copy.
    job = a.complete(handle, message="done", at=at(2))
    assert (job.state, job.version, job.outcome) == ("Done", 3, "success")


def test_a_stale_ledger_reports_the_rule_that_the_other_writer_broke_for_it(open_ledger: OpenLedger) -> None:
    a, b = open_ledger(), open_ledger()
    handle = a.submit("acme", "nightly", PAYLOAD, at=at(0))
    a.start(handle, "srv1", at=at(1))

    b.complete(handle, at=at(2))

    with pytest.raises(InvalidTransitionError, match="it is Done"):
        a.update_progress(handle, 50, at=at(3))
    assert len(b.history(handle)) == 3


def test_a_stale_ledger_refuses_a_time_before_the_other_writers_event(open_ledger: OpenLedger) -> None:
    a, b = open_ledger(), open_ledger()
    handle = a.submit("acme", "nightly", PAYLOAD, at=at(0))
    a.start(handle, "srv1", at=at(1))

    b.update_progress(handle, 10, at=at(10))

    with pytest.raises(RuleError, match="is before the last event"):
        a.log_detail(handle, "UploadSuccess", "a.jpg", at=at(5))
    assert len(b.history(handle)) == 3


def test_two_ledgers_submitting_one_name_at_one_moment_get_distinct_handles(open_ledger: OpenLedger) -> None:
    a, b = open_ledger(), open_ledger()

    handles = [ledger.submit("acme", "nightly", PAYLOAD, at=at(0)) for ledger in (a, b, a, b)]

    assert len(set(handles)) == 4


def test_the_same_idempotent_submit_from_two_ledgers_makes_one_job(open_ledger: OpenLedger) -> None:
    a, b = open_ledger(), open_ledger()

    first = a.submit("acme", "nightly", PAYLOAD, idempotency_key="req-1", at=at(0))
    second = b.submit("acme", "nightly", PAYLOAD, idempotency_key="req-1", at=at(5))

    assert first == second
    assert a.event_count() == 2


# --- two processes on one SQLite file ------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from jobledger.service.ledger import JobLedger
    from jobledger.domain.payloads import decode_payload

    db, who, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ready, go = Path(sys.argv[4]), Path(sys.argv[5])
    payload = decode_payload("optimizeImagesJob", '{"emailSetting": "All"}')
    ledger = JobLedger(db)
    ready.touch()
    while not go.exists():
        time.sleep(0.005)
    appended = 0

    def work() -> None:
        # A runner does some work between reports; SQLite's lock is not fair, so two writers in
        # tight loops with nothing between commits take turns in long stretches, not commit by commit.
        time.sleep(0.001)

    for n in range(jobs):
        handle = ledger.submit(who, f"job{n}", payload)
        work()
        ledger.start(handle, who)
        for percent in (25, 50, 75):
            work()
            ledger.update_progress(handle, percent)
        work()
        ledger.log_detail(handle, "UploadSuccess", f"file{n}")
        work()
        ledger.complete(handle)
        appended += 7
    ledger.close()
    print(appended)
    """
)
JOBS_PER_PROCESS = 60


def test_two_processes_appending_to_one_sqlite_file_never_see_database_is_locked(
    sqlite_db: str, tmp_path: Path
) -> None:
    JobLedger(sqlite_db).close()  # create the file and tables before the race
    go = tmp_path / "go"
    writers = []
    for who in ("alpha", "beta"):
        ready = tmp_path / f"ready-{who}"
        args = [sys.executable, "-c", WRITER, sqlite_db, who, str(JOBS_PER_PROCESS), str(ready), str(go)]
        writers.append(
            (ready, subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        )
    deadline = time.monotonic() + 30
    while not all(ready.exists() for ready, _ in writers):
        assert time.monotonic() < deadline, "the writers did not start"
        assert all(p.poll() is None for _, p in writers), [p.communicate() for _, p in writers]
        time.sleep(0.01)
    go.touch()

    results = [process.communicate(timeout=120) for _, process in writers]

    for (_, process), (stdout, stderr) in zip(writers, results, strict=True):
        assert "database is locked" not in stderr
        assert process.returncode == 0, stderr
        assert int(stdout) == 7 * JOBS_PER_PROCESS
    ledger = JobLedger(sqlite_db)
    try:
        assert ledger.event_count() == sum(int(stdout) for stdout, _ in results)
        companies = _companies_in_order(ledger)
        switches = sum(1 for one, two in itertools.pairwise(companies) if one != two)
        assert switches > 2, "the two writers did not run at the same time"
        for who in ("alpha", "beta"):
            handles = {e.jobHandle for e in _submitted(ledger, who)}
            assert len(handles) == JOBS_PER_PROCESS
            assert all(ledger.get(h).state == "Done" for h in handles)
        # Each writer's remembered chain head went stale whenever the other appended between
        # two of its commands: its rows were linked again from the real head, in its transaction.
        assert audit.verify(ledger.reader) is None
    finally:
        ledger.close()


def _all_events(ledger: JobLedger) -> list[Any]:
    return [ledger.reader.decode(stored) for stored in ledger.reader.stored()]


def _submitted(ledger: JobLedger, company: str) -> list[Submitted]:
    return [e for e in _all_events(ledger) if isinstance(e, Submitted) and e.companyHandle == company]


def _companies_in_order(ledger: JobLedger) -> list[str]:
    """Which writer appended each event, in the store's global order."""
    owner: dict[UUID, str] = {}
    for event in _all_events(ledger):
        if isinstance(event, Submitted):
            owner[event.originator_id] = event.companyHandle
    return [owner[e.originator_id] for e in _all_events(ledger)]
