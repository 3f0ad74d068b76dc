"""The typed boundary: a wrong type, a too large value or a control character in a name is refused
with one domain error naming the argument, nothing is appended, and every read still works."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from cli_checks import assert_one_line_error
from cli_support import ok, run
from samples import OPTIMIZE, T0, UPLOAD_DIRECTORY, at

from jobledger.domain.commands import LogDetail, UpdateProgress
from jobledger.domain.errors import InvalidFieldError, LedgerError
from jobledger.domain.events import Counters, JobLogDetailAux, TaskItemProgress, TaskProgress
from jobledger.domain.limits import MAX_COMMAND_BYTES, MAX_HANDLE, MAX_ITEMS, MAX_NAME, MAX_TEXT
from jobledger.domain.payloads import (
    ExportJob,
    OptimizeImagesJob,
    PayloadError,
    decode_payload,
)
from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector
from jobledger.store.config import is_postgres_url

PAYLOAD = decode_payload("optimizeImagesJob", OPTIMIZE)
UPLOAD = decode_payload("uploadDirectoryJob", UPLOAD_DIRECTORY)
Call = Callable[[JobLedger, str], object]


def _running(ledger: JobLedger) -> str:
    handle = ledger.submit("acme", "nightly", PAYLOAD, at=at(0))
    ledger.start(handle, "srv1", at=at(1))
    return handle


def assert_every_read_works(ledger: JobLedger, handle: str, tmp_path: Path) -> None:
    """The reads that a stored bad event used to break: history, the store's decode, the views."""
    ledger.history(handle)
    for stored in ledger.reader.stored():
        ledger.reader.decode(stored)
    views = None
    if is_postgres_url(ledger.db):
        views = str(tmp_path / "views.db")
    projector = open_projector(ledger, views)
    projector.catch_up()
    assert projector.verify() == []


# The examples of issue 11 (A1), and more of the same kind: each is refused naming its argument.
REFUSED: dict[str, tuple[Call, str]] = {
    "float-percent": (lambda lg, h: lg.update_progress(h, 50.5), "invalid percent: expected int, got float"),  # type: ignore[arg-type]
    "bool-percent": (lambda lg, h: lg.update_progress(h, True), "invalid percent: expected int, got bool"),
    "float-total-size": (
        lambda lg, h: lg.start(h, "s", total_size=2.5),  # type: ignore[arg-type]
        "invalid total_size: expected int, got float",
    ),
    "int-asset-name": (
        lambda lg, h: lg.log_detail(h, "UploadSuccess", "m", asset_name=123),  # type: ignore[arg-type]
        "invalid asset_name: expected str | null, got int",
    ),
    "none-message": (
        lambda lg, h: lg.log_detail(h, "UploadSuccess", None),  # type: ignore[arg-type]
        "invalid message: expected str, got None",
    ),
    "int-progress-message": (
        lambda lg, h: lg.update_progress(h, 10, message=42),  # type: ignore[arg-type]
        "invalid message: expected str, got int",
    ),
    "bytes-complete-message": (
        lambda lg, h: lg.complete(h, message=b"x"),  # type: ignore[arg-type]
        "invalid message: expected str, got bytes",
    ),
    "none-user-email": (
        lambda lg, h: lg.submit("acme", "n", PAYLOAD, user_email=None),  # type: ignore[arg-type]
        "invalid user_email: expected str, got None",
    ),
    "string-fatal": (
        lambda lg, h: lg.complete(h, fatal="yes"),  # type: ignore[arg-type]
        "invalid fatal: expected bool, got str",
    ),
    "huge-percent": (lambda lg, h: lg.update_progress(h, 2**80), "invalid percent: an integer out of range"),
    "object-server": (
        lambda lg, h: lg.update_progress(h, 1, server=object()),  # type: ignore[arg-type]
        "invalid server: a value of type object is not allowed",
    ),
    "surrogate-message": (
        lambda lg, h: lg.update_progress(h, 1, message="\udc80"),
        "invalid message: a string that is not valid Unicode",
    ),
    "task-float-count": (
        lambda lg, h: lg.update_progress(h, 1, tasks=[TaskProgress(taskType="t", numProcessed=1.5)]),  # type: ignore[arg-type]
        "invalid tasks[0].numProcessed: expected int, got float",
    ),
    "task-dict": (
        lambda lg, h: lg.update_progress(h, 1, tasks=[{"taskType": 3}]),  # type: ignore[list-item]
        "invalid tasks[0].taskType: expected str, got int",
    ),
    "aux-date-text": (
        lambda lg, h: lg.log_detail(
            h,
            "UploadSuccess",
            "m",
            aux=[JobLogDetailAux(logMessage="m", logType="UploadWarning", dateCreated="soon")],  # type: ignore[arg-type]
        ),
        "invalid aux[0].dateCreated: expected an ISO 8601 time",
    ),
    "counters-negative": (
        lambda lg, h: lg.complete(h, counters=Counters(fileSuccessCount=-1)),
        "invalid counters.fileSuccessCount: expected int >= 0",
    ),
    "bad-at-text": (
        lambda lg, h: lg.update_progress(h, 1, at="yesterday"),
        "invalid at: expected an ISO 8601 time",
    ),
    "date-at": (
        lambda lg, h: lg.update_progress(h, 1, at=3),
        "invalid at: expected datetime | null, got int",
    ),  # type: ignore[arg-type]
    "newline-server": (
        lambda lg, h: lg.update_progress(h, 1, server="srv\n2"),
        "invalid server: control characters and newlines are not allowed",
    ),
    "tab-company": (
        lambda lg, h: lg.submit("ac\tme", "n", PAYLOAD),
        "invalid company: control characters and newlines are not allowed",
    ),
    "escape-log-type": (
        lambda lg, h: lg.log_detail(h, "Upload\x1bSuccess", "m"),
        "invalid log_type: control characters",
    ),
    "line-separator-name": (
        lambda lg, h: lg.submit("acme", "a\u2028b", PAYLOAD),
        "invalid name: control characters",
    ),
    "long-name": (
        lambda lg, h: lg.submit("acme", "n" * (MAX_NAME + 1), PAYLOAD),
        f"invalid name: longer than the limit of {MAX_NAME} characters",
    ),
    "long-handle": (
        lambda lg, h: lg.start("h" * (MAX_HANDLE + 1), "s"),
        f"invalid handle: longer than the limit of {MAX_HANDLE:,} characters",
    ),
    "long-message": (
        lambda lg, h: lg.log_detail(h, "UploadSuccess", "m" * (MAX_TEXT + 1)),
        f"invalid message: longer than the limit of {MAX_TEXT:,} characters",
    ),
    "too-many-tasks": (
        lambda lg, h: lg.update_progress(h, 1, tasks=[TaskProgress(taskType="t")] * (MAX_ITEMS + 1)),
        f"invalid tasks: longer than the limit of {MAX_ITEMS:,} items",
    ),
    "too-many-aux-rows": (
        lambda lg, h: lg.log_detail(
            h, "UploadSuccess", "m", aux=[JobLogDetailAux(logMessage="m", logType="UploadWarning")] * 1001
        ),
        "invalid aux: longer than the limit of 1,000 items",
    ),
    "huge-payload": (
        lambda lg, h: lg.submit(
            "acme", "n", ExportJob(assetHandleArray=["a|x" * 100] * 1000, fmt="orig", emailSetting="All")
        ),
        f"bytes encoded, over the limit of {MAX_COMMAND_BYTES:,} bytes",
    ),
    "payload-several-problems": (
        lambda lg, h: lg.submit(
            "acme",
            "n",
            msgspec.structs.replace(UPLOAD, serverDir=3, overwrite="yes", emailSetting="Never"),
        ),
        "invalid uploadDirectoryJob payload: serverDir: expected str, got int;"
        " overwrite: expected bool, got str; emailSetting: invalid enum value 'Never'",
    ),
    "payload-not-a-payload": (
        lambda lg, h: lg.submit("acme", "n", "optimizeImagesJob"),  # type: ignore[arg-type]
        "a payload must be one of the 13 submittable payload types",
    ),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_a_wrong_argument_is_refused_naming_it_and_nothing_is_appended(
    ledger: JobLedger, case: str, tmp_path: Path
) -> None:
    call, message = REFUSED[case]
    handle = _running(ledger)
    before = ledger.event_count()

    with pytest.raises(LedgerError) as caught:
        call(ledger, handle)

    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert ledger.event_count() == before
    assert_every_read_works(ledger, handle, tmp_path)


def test_the_error_is_a_rule_error_that_names_the_field_and_keeps_msgspec_as_its_cause(
    ledger: JobLedger,
) -> None:
    handle = _running(ledger)

    with pytest.raises(InvalidFieldError) as caught:
        ledger.update_progress(handle, 50.5)  # type: ignore[arg-type]

    assert str(caught.value) == "invalid percent: expected int, got float"
    assert caught.value.field == "percent"
    assert caught.value.__cause__ is not None


def test_a_payload_error_lists_every_missing_and_unknown_field_at_once(ledger: JobLedger) -> None:
    with pytest.raises(PayloadError) as caught:
        decode_payload("uploadDirectoryJob", '{"serverDir": "in/", "colour": 1, "size": 2}')

    assert str(caught.value) == (
        "invalid uploadDirectoryJob payload: missing overwrite, readyForPublish, includeSubfolders,"
        " createMask, processMetadataFiles, emailSetting; unknown fields colour, size"
    )


def test_a_bad_command_in_a_batch_is_named_by_its_position_and_nothing_is_appended(ledger: JobLedger) -> None:
    handle = _running(ledger)
    before = ledger.event_count()

    with pytest.raises(InvalidFieldError, match=r"^command 2 \(LogDetail\): invalid asset_name"):
        ledger.record(
            [
                UpdateProgress(handle=handle, percent=5, at=at(2)),
                LogDetail(handle=handle, log_type="UploadSuccess", message="m", asset_name=7, at=at(3)),  # type: ignore[arg-type]
            ]
        )

    assert ledger.event_count() == before


def test_at_takes_an_iso_string_or_a_datetime(ledger: JobLedger) -> None:
    handle = ledger.submit("acme", "nightly", PAYLOAD, at="2026-01-01T09:00:00Z")
    ledger.start(handle, "srv1", at="2026-01-01T10:00:00+01:00")
    job = ledger.update_progress(handle, 5, at="2026-01-01T09:00:02")  # no zone: UTC

    assert [event.timestamp for event in ledger.history(handle)] == [T0, at(0), at(2)]
    assert job.lastProgressUpdate == datetime(2026, 1, 1, 9, 0, 2, tzinfo=UTC)


def test_free_text_may_hold_newlines_and_control_characters(ledger: JobLedger, tmp_path: Path) -> None:
    handle = _running(ledger)

    job = ledger.log_detail(handle, "UploadWarning", "line one\nline\ttwo\x1b[31m", at=at(2))

    assert job.detailTotalRows == 1
    assert_every_read_works(ledger, handle, tmp_path)


def test_names_within_the_limits_and_in_any_script_are_accepted(ledger: JobLedger) -> None:
    handle = ledger.submit("ácme", "ñ" * MAX_NAME, OptimizeImagesJob(emailSetting="All"), at=at(0))

    assert handle.startswith("ácme||ñ")


# --- the same through the CLI ------------------------------------------------------------------


def _cli_running(db: str) -> str:
    handle = ok(db, "submit", "--company", "acme", "--name", "n", "--type", "optimizeImagesJob",
                "--payload", OPTIMIZE, "--at", at(0).isoformat()).strip()  # fmt: skip
    ok(db, "start", handle, "--server", "srv1", "--at", at(1).isoformat())
    return handle


CLI_REFUSED: dict[str, tuple[Callable[[str], list[str]], tuple[str, ...]]] = {
    "float-in-tasks": (
        lambda h: ["progress", h, "--percent", "5", "--tasks", '[{"taskType": "t", "numProcessed": 1.5}]'],
        ("invalid --tasks: [0].numProcessed: expected int, got float",),
    ),
    "newline-server": (
        lambda h: ["progress", h, "--percent", "5", "--server", "a\nb"],
        ("invalid server", "control characters"),
    ),
    "long-message": (
        lambda h: ["log", h, "--log-type", "UploadSuccess", "--message", "m" * (MAX_TEXT + 1)],
        ("invalid message", f"limit of {MAX_TEXT:,} characters"),
    ),
    "control-name": (
        lambda h: [
            "submit",
            "--company",
            "acme",
            "--name",
            "a\x07b",
            "--type",
            "optimizeImagesJob",
            "--payload",
            OPTIMIZE,
        ],
        ("invalid name", "control characters"),
    ),
    "payload-every-problem": (
        lambda h: [
            "submit",
            "--company",
            "acme",
            "--name",
            "n",
            "--type",
            "exportJob",
            "--payload",
            '{"fmt": "png", "x": 1}',
        ],
        ("missing assetHandleArray, emailSetting", "unknown field x", "fmt: invalid enum value 'png'"),
    ),
}


@pytest.mark.parametrize("case", CLI_REFUSED, ids=list(CLI_REFUSED))
def test_the_cli_refuses_bad_input_in_one_line_and_reads_still_work(sqlite_db: str, case: str) -> None:
    args, fragments = CLI_REFUSED[case]
    handle = _cli_running(sqlite_db)
    before = ok(sqlite_db, "events", "--format", "ndjson")

    assert_one_line_error(run(sqlite_db, *args(handle)), 1, *fragments)

    assert ok(sqlite_db, "events", "--format", "ndjson") == before
    for read in (["logs"], ["active"], ["export"], ["history", handle], ["projections", "verify"]):
        ok(sqlite_db, *read)


def test_times_without_a_zone_in_task_and_aux_rows_are_stored_as_utc(ledger: JobLedger) -> None:
    handle = _running(ledger)
    naive = datetime(2026, 1, 1, 9, 0, 3)
    item = TaskItemProgress(itemName="v.mp4", lastProgressUpdate=naive)
    task = TaskProgress(taskType="t", lastProgressUpdate=naive, taskItemProgressArray=[item])
    row = JobLogDetailAux(logMessage="m", logType="UploadWarning", dateCreated="2026-01-01T09:00:04")  # type: ignore[arg-type]

    ledger.update_progress(handle, 5, tasks=[task], at=at(5))
    ledger.log_detail(handle, "UploadSuccess", "m", aux=[row], at=at(6))

    progress, detail = ledger.history(handle)[-2:]
    stored = progress.taskProgressArray[0]  # type: ignore[attr-defined]
    assert stored.lastProgressUpdate == at(3)
    assert stored.taskItemProgressArray[0].lastProgressUpdate == at(3)
    assert detail.auxArray[0].dateCreated == at(4)  # type: ignore[attr-defined]
