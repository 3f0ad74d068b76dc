"""JobLedger, the Python API, on a real store: SQLite file and PostgreSQL schema."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from samples import OPTIMIZE, T0, UPLOAD_DIRECTORY, at

from jobledger.domain.aggregates import fold
from jobledger.domain.commands import Complete, LogDetail, Start, Submit, UpdateProgress
from jobledger.domain.errors import (
    IdempotencyConflictError,
    InvalidTransitionError,
    LedgerError,
    RuleError,
    UnknownHandleError,
)
from jobledger.domain.events import (
    Completed,
    Counters,
    Deleted,
    DetailLogged,
    ProgressUpdated,
    Started,
    StopRequested,
    Submitted,
    TaskProgress,
)
from jobledger.domain.handles import run_handle, run_name
from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import JobLedger
from jobledger.store.codec import event_topic

OptimizePayload = decode_payload("optimizeImagesJob", OPTIMIZE)


def submit(ledger: JobLedger, name: str = "nightly", when: datetime = T0, **kwargs: object) -> str:
    return ledger.submit("acme", name, OptimizePayload, at=when, **kwargs)  # type: ignore[arg-type]


def test_a_runner_drives_a_whole_job_through_the_python_api(ledger: JobLedger) -> None:
    payload = decode_payload("uploadDirectoryJob", UPLOAD_DIRECTORY)
    handle = ledger.submit(
        "acme", "upload", payload, user_email="ops@example.com", locale="en-US", description="d", at=at(0)
    )
    ledger.start(handle, "srv1", total_size=4096, at=at(1))
    task = TaskProgress(taskType="upload", numProcessed=1, numPending=2, progress=1 / 3)
    ledger.update_progress(handle, 33, message="1 of 3", tasks=[task], at=at(2))
    ledger.log_detail(handle, "BeginUpload", "start", at=at(3))
    ledger.log_detail(
        handle, "UploadSuccess", "a.jpg", asset_name="a.jpg", asset_type="MasterImage", at=at(4)
    )
    ledger.log_detail(handle, "uploadwarning", "b.jpg", asset_name="b.jpg", at=at(5))
    done = ledger.complete(handle, message="finished", at=at(6))

    assert handle == "acme||upload_2026-01-01-09:00:00"
    assert (done.state, done.outcome, done.version) == ("Done", "warnings", 7)
    assert (done.type, done.logType, done.serverName, done.totalSize) == (
        "UploadFromServerDirectory",
        "BeginUpload",
        "srv1",
        4096,
    )
    assert (done.progress, done.progressMessage, done.lastProgressUpdate) == (33, "1 of 3", at(2))
    assert (done.fileSuccessCount, done.fileWarningCount, done.totalFileCount) == (1, 1, 2)
    assert (done.startDate, done.endDate) == (at(1), at(6))
    assert ledger.get(handle) == done
    history = ledger.history(handle)
    assert [type(e) for e in history] == [
        Submitted,
        Started,
        ProgressUpdated,
        DetailLogged,
        DetailLogged,
        DetailLogged,
        Completed,
    ]
    assert [e.originator_version for e in history] == list(range(1, 8))
    assert [e.timestamp for e in history] == [at(n) for n in range(7)]
    assert fold(history) == done


def test_the_ledger_stores_each_event_as_one_msgspec_messagepack_document_under_its_topic(
    ledger: JobLedger,
) -> None:
    handle = submit(ledger)

    (stored,) = ledger.reader.stored()
    (event,) = ledger.history(handle)
    assert stored.topic == event_topic(Submitted)
    assert stored.state == msgspec.msgpack.encode(event)
    assert msgspec.msgpack.decode(stored.state, type=Submitted) == event


def test_an_sqlite_ledger_keeps_its_file_in_wal_mode(sqlite_db: str) -> None:
    ledger = JobLedger(sqlite_db)
    try:
        submit(ledger)
    finally:
        ledger.close()

    conn = sqlite3.connect(sqlite_db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM stored_events").fetchone()[0] == 1
    finally:
        conn.close()


def test_an_empty_ledger_has_no_events(ledger: JobLedger) -> None:
    assert ledger.event_count() == 0


def test_a_job_survives_closing_and_reopening_the_ledger(
    ledger: JobLedger, open_ledger: Callable[[], JobLedger]
) -> None:
    handle = submit(ledger)
    job = ledger.start(handle, "srv1", at=at(1))

    assert open_ledger().get(handle) == job
    assert open_ledger().event_count() == 2


def test_commands_without_a_time_happen_now_in_utc(ledger: JobLedger) -> None:
    before = datetime.now(UTC)
    handle = ledger.submit("acme", "now", OptimizePayload)
    job = ledger.start(handle, "srv1")

    assert job.startDate is not None
    assert before <= job.submitDate <= job.startDate <= datetime.now(UTC)
    assert job.startDate.utcoffset() == timedelta(0)


def test_a_time_without_a_zone_is_taken_as_utc(ledger: JobLedger) -> None:
    handle = submit(ledger, when=datetime(2026, 1, 1, 9, 0, 0))

    assert ledger.get(handle).submitDate == T0
    assert handle.endswith("_2026-01-01-09:00:00")


def test_two_submits_of_one_name_in_the_same_second_get_distinct_handles(ledger: JobLedger) -> None:
    first = submit(ledger)
    second = submit(ledger, when=T0 + timedelta(microseconds=500))
    third = submit(ledger)

    assert first == "acme||nightly_2026-01-01-09:00:00"
    assert second == "acme||nightly_2026-01-01-09:00:00-2"
    assert third == "acme||nightly_2026-01-01-09:00:00-3"
    assert ledger.get(second).name == "nightly_2026-01-01-09:00:00-2"
    assert ledger.get(second).originalName == "nightly"


def test_a_name_taken_by_another_writer_in_the_same_second_gets_the_next_counter(db: str) -> None:
    # The second writer has never seen the first run: it trusts the handle to be free, the
    # append fails on the store's uniqueness, and it decides again with the store read.
    first_writer, second_writer = JobLedger(db), JobLedger(db)
    try:
        first = submit(first_writer)
        second = submit(second_writer)
        submit(first_writer, "weekly", exec_schedule="0 0 3 ? * MON")
        with pytest.raises(RuleError, match="already has a schedule named 'weekly'"):
            submit(second_writer, "weekly", exec_schedule="0 0 4 ? * MON")
        assert (first, second) == (
            "acme||nightly_2026-01-01-09:00:00",
            "acme||nightly_2026-01-01-09:00:00-2",
        )
        assert second_writer.get(second).name == "nightly_2026-01-01-09:00:00-2"
        assert second_writer.event_count() == 3
    finally:
        first_writer.close()
        second_writer.close()


def test_a_deleted_job_keeps_its_history_and_can_still_be_read(ledger: JobLedger) -> None:
    handle = submit(ledger)
    ledger.start(handle, "srv1", at=at(1))

    deleted = ledger.delete(handle, requested_by="ops", at=at(2))

    assert (deleted.state, deleted.deleted, deleted.outcome) == ("Done", True, "stopped")
    assert [type(e) for e in ledger.history(handle)] == [
        Submitted,
        Started,
        StopRequested,
        Completed,
        Deleted,
    ]
    assert ledger.get(handle) == deleted


# --- errors append nothing ------------------------------------------------------------------------


def test_an_unknown_handle_is_reported_by_name(ledger: JobLedger) -> None:
    for call in (
        lambda: ledger.get("acme||nope"),
        lambda: ledger.history("acme||nope"),
        lambda: ledger.start("acme||nope", "srv1"),
    ):
        with pytest.raises(UnknownHandleError, match=r"no job with handle 'acme\|\|nope'"):
            call()
    assert ledger.event_count() == 0


def test_a_handle_of_another_company_is_unknown_to_that_company(ledger: JobLedger) -> None:
    handle = submit(ledger)
    count = ledger.event_count()

    for call in (
        lambda: ledger.get(handle, company="globex"),
        lambda: ledger.history(handle, company="globex"),
        lambda: ledger.start(handle, "srv1", company="globex", at=at(1)),
        lambda: ledger.delete(handle, company="globex", at=at(1)),
    ):
        with pytest.raises(UnknownHandleError, match="for company globex"):
            call()

    assert ledger.event_count() == count
    assert ledger.get(handle, company="acme").state == "New"


@pytest.mark.parametrize(
    "breaks",
    [
        pytest.param(lambda ledger, h: ledger.complete(h, at=at(5)), id="complete-a-new-job"),
        pytest.param(lambda ledger, h: ledger.update_progress(h, 5, at=at(5)), id="progress-on-a-new-job"),
        pytest.param(lambda ledger, h: ledger.start(h, "", at=at(5)), id="start-without-a-server"),
        pytest.param(lambda ledger, h: ledger.start(h, "srv1", at=at(-5)), id="start-before-submit"),
        pytest.param(lambda ledger, h: ledger.log_detail(h, "Nope", "m", at=at(5)), id="unknown-log-type"),
        pytest.param(
            lambda ledger, h: ledger.submit("acme", "n", OptimizePayload, locale="english"), id="bad-locale"
        ),
        pytest.param(lambda ledger, h: ledger.submit("ac|me", "n", OptimizePayload), id="pipe-in-company"),
    ],
)
def test_a_broken_rule_raises_a_rule_error_and_appends_nothing(
    ledger: JobLedger, breaks: Callable[[JobLedger, str], object]
) -> None:
    handle = submit(ledger)
    count = ledger.event_count()

    with pytest.raises(RuleError):
        breaks(ledger, handle)

    assert ledger.event_count() == count
    assert len(ledger.history(handle)) == 1


def test_a_total_size_too_large_to_store_is_a_ledger_error_not_a_crash(ledger: JobLedger) -> None:
    handle = submit(ledger)

    with pytest.raises(LedgerError):
        ledger.start(handle, "srv1", total_size=2**64, at=at(1))

    assert ledger.event_count() == 1


# --- idempotent submit ------------------------------------------------------------------------------


def test_a_repeated_submit_with_the_same_key_and_request_returns_the_first_handle(ledger: JobLedger) -> None:
    first = submit(ledger, idempotency_key="k1")
    count = ledger.event_count()

    again = submit(ledger, when=at(30), idempotency_key="k1")

    assert again == first
    assert ledger.event_count() == count


def test_the_same_key_with_a_different_request_is_a_conflict_naming_the_first_job(ledger: JobLedger) -> None:
    first = submit(ledger, idempotency_key="k1")
    count = ledger.event_count()

    with pytest.raises(
        IdempotencyConflictError,
        match=rf"idempotency key 'k1' was used for a different request \(job {first.replace('|', '[|]')}\)",
    ):
        submit(ledger, name="other", idempotency_key="k1")

    assert ledger.event_count() == count


def test_an_idempotency_key_belongs_to_one_company(ledger: JobLedger) -> None:
    ours = submit(ledger, idempotency_key="k1")

    theirs = ledger.submit("globex", "nightly", OptimizePayload, at=T0, idempotency_key="k1")

    assert theirs != ours
    assert ledger.get(theirs).companyHandle == "globex"


def test_a_submit_without_a_key_always_creates_a_new_run(ledger: JobLedger) -> None:
    assert submit(ledger) != submit(ledger)


# --- batches --------------------------------------------------------------------------------------


def test_a_batch_records_a_whole_lifecycle_in_one_call(ledger: JobLedger) -> None:
    handle = run_handle("acme", run_name("batch", T0))
    commands = [
        Submit(company="acme", name="batch", payload=OptimizePayload, at=at(0)),
        Start(handle=handle, server="srv1", at=at(1)),
        UpdateProgress(handle=handle, percent=50, at=at(2)),
        LogDetail(handle=handle, log_type="ReoptimizeSuccess", message="a.jpg", at=at(3)),
        Complete(handle=handle, counters=Counters(fileSuccessCount=1, totalFileCount=1), at=at(4)),
    ]

    states = ledger.record(commands)

    assert [s.state for s in states] == ["New", "Running", "Running", "Running", "Done"]
    assert states[-1].outcome == "success"
    assert ledger.event_count() == 5
    assert ledger.get(handle) == states[-1]


def test_a_batch_with_a_broken_rule_records_nothing_and_names_the_command(ledger: JobLedger) -> None:
    handle = submit(ledger)

    with pytest.raises(RuleError, match=r"command 2 \(UpdateProgress\): progress must be between 0 and 100"):
        ledger.record(
            [Start(handle=handle, server="srv1", at=at(1)), UpdateProgress(handle=handle, percent=101)]
        )

    assert ledger.event_count() == 1
    assert ledger.get(handle).state == "New"


def test_a_batch_whose_later_command_breaks_a_transition_reports_that_rule(ledger: JobLedger) -> None:
    handle = submit(ledger)

    with pytest.raises(
        InvalidTransitionError, match=r"command 2 \(Start\): cannot start job .*: it is Running"
    ):
        ledger.record(
            [Start(handle=handle, server="srv1", at=at(1)), Start(handle=handle, server="srv2", at=at(2))]
        )

    assert ledger.event_count() == 1
