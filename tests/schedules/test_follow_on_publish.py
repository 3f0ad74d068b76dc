"""Follow-on publish: an upload, reprocess or rip run naming a post*PublishJob submits the publish run
when it completes (exactly once, with the Pub_ prefix), unless it failed, was stopped, or, with
postJobOnlyIfFiles, processed no files."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from schedule_support import PUBLISH_JSON, T0, as_json, ok, upload

from jobledger.domain.errors import InvalidTransitionError, RuleError
from jobledger.domain.events import Completed, Counters, Submitted
from jobledger.domain.payloads import decode_payload
from jobledger.projections.queries import job_logs
from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector

SERVING = json.loads(PUBLISH_JSON)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run_upload(ledger: JobLedger, payload: object, *rows: str, name: str = "Upload") -> str:
    """Submit, start and log one row of each given type; return the run's handle (not completed)."""
    handle = ledger.submit("acme", name, payload, user_email="ops@acme.test", locale="en-US", at=at(0))  # type: ignore[arg-type]
    ledger.start(handle, "server-1", at=at(1))
    for index, log_type in enumerate(rows):
        ledger.log_detail(handle, log_type, f"row {index}", asset_name=f"file{index}.jpg", at=at(2 + index))
    return handle


def all_runs(ledger: JobLedger) -> list[dict[str, object]]:
    projector = open_projector(ledger)
    projector.catch_up()
    return job_logs(projector.db)


def test_an_upload_that_completes_with_files_submits_one_follow_on_publish_named_pub(
    schedules: JobLedger,
) -> None:
    handle = run_upload(schedules, upload(postImageServingPublishJob=SERVING), "UploadSuccess")
    done = schedules.complete(handle, at=at(10))
    follow_on = done.followOnHandle
    assert follow_on == "acme||Pub_Upload_2026-01-05-00:00:10"

    completed = schedules.history(handle)[-1]
    assert isinstance(completed, Completed) and completed.followOnHandle == follow_on
    submitted = schedules.history(follow_on)[0]
    assert isinstance(submitted, Submitted)
    assert submitted.followOnOf == handle
    assert submitted.name.startswith("Pub_Upload_")
    assert submitted.originalName == "Upload"
    assert submitted.type == "ImageServingPublish"
    assert submitted.payload == decode_payload("imageServingPublishJob", PUBLISH_JSON.encode())
    assert (submitted.submitUserEmail, submitted.locale) == ("ops@acme.test", "en-US")
    assert schedules.get_job(follow_on).state == "New"
    assert sorted(r["jobHandle"] for r in all_runs(schedules)) == sorted([handle, follow_on])


def test_the_follow_on_run_is_appended_in_the_same_transaction_right_after_the_completion(
    schedules: JobLedger,
) -> None:
    handle = run_upload(schedules, upload(postImageServingPublishJob=SERVING), "UploadSuccess")
    before = schedules.event_count()
    schedules.complete(handle, at=at(10))
    assert schedules.event_count() == before + 2


def test_completing_twice_is_refused_so_the_follow_on_is_submitted_exactly_once(schedules: JobLedger) -> None:
    handle = run_upload(schedules, upload(postImageServingPublishJob=SERVING), "UploadSuccess")
    schedules.complete(handle, at=at(10))
    with pytest.raises(InvalidTransitionError):
        schedules.complete(handle, at=at(11))
    publishes = [r for r in all_runs(schedules) if str(r["jobName"]).startswith("Pub_")]
    assert len(publishes) == 1


def test_without_post_job_only_if_files_a_follow_on_is_submitted_even_with_no_files(
    schedules: JobLedger,
) -> None:
    handle = run_upload(schedules, upload(postImageServingPublishJob=SERVING))
    assert schedules.complete(handle, at=at(10)).followOnHandle is not None


@pytest.mark.parametrize(
    ("rows", "counters"),
    [((), None), (("UploadError",), None), (("DuplicateSkipped", "UploadWarning"), None)],
    ids=["no-rows", "only-errors", "only-duplicates-and-warnings"],
)
def test_post_job_only_if_files_with_no_processed_files_submits_no_follow_on(
    schedules: JobLedger, rows: tuple[str, ...], counters: Counters | None
) -> None:
    handle = run_upload(schedules, upload(postImageServingPublishJob=SERVING, postJobOnlyIfFiles=True), *rows)
    before = schedules.event_count()
    done = schedules.complete(handle, counters=counters, at=at(10))
    assert done.followOnHandle is None
    assert schedules.event_count() == before + 1
    assert len(all_runs(schedules)) == 1


@pytest.mark.parametrize(
    ("rows", "counters"),
    [
        (("UploadSuccess",), None),
        (("FileUpdated",), None),
        ((), Counters(fileSuccessCount=3, totalFileCount=3)),
    ],
    ids=["a-success-row", "an-update-row", "final-counters"],
)
def test_post_job_only_if_files_with_processed_files_submits_the_follow_on(
    schedules: JobLedger, rows: tuple[str, ...], counters: Counters | None
) -> None:
    handle = run_upload(schedules, upload(postImageServingPublishJob=SERVING, postJobOnlyIfFiles=True), *rows)
    assert schedules.complete(handle, counters=counters, at=at(10)).followOnHandle is not None


def test_a_fatal_completion_submits_no_follow_on(schedules: JobLedger) -> None:
    handle = run_upload(schedules, upload(postImageServingPublishJob=SERVING), "UploadSuccess")
    assert schedules.complete(handle, fatal=True, at=at(10)).followOnHandle is None
    assert len(all_runs(schedules)) == 1


def test_a_fatal_error_row_submits_no_follow_on(schedules: JobLedger) -> None:
    handle = run_upload(schedules, upload(postImageServingPublishJob=SERVING), "UploadSuccess", "FatalError")
    done = schedules.complete(handle, at=at(10))
    assert (done.outcome, done.followOnHandle) == ("fatal", None)


def test_a_stopped_run_submits_no_follow_on(schedules: JobLedger) -> None:
    handle = run_upload(schedules, upload(postImageServingPublishJob=SERVING), "UploadSuccess")
    schedules.request_stop(handle, reason="operator", at=at(5))
    done = schedules.complete(handle, at=at(10))
    assert (done.outcome, done.followOnHandle) == ("stopped", None)
    assert len(all_runs(schedules)) == 1


def test_a_new_run_stopped_before_it_started_submits_no_follow_on(schedules: JobLedger) -> None:
    handle = schedules.submit("acme", "Upload", upload(postImageServingPublishJob=SERVING), at=at(0))
    schedules.request_stop(handle, at=at(1))
    assert len(all_runs(schedules)) == 1


def test_deleting_a_live_upload_submits_no_follow_on(schedules: JobLedger) -> None:
    handle = run_upload(schedules, upload(postImageServingPublishJob=SERVING), "UploadSuccess")
    schedules.delete(handle, at=at(10))
    assert len(all_runs(schedules)) == 1


@pytest.mark.parametrize(
    ("kind", "fields", "post", "expected_type"),
    [
        (
            "reprocessAssetsJob",
            {"assetHandleArray": ["a|img1"], "createMask": True, "emailSetting": "All"},
            {"postVideoPublishJob": {"emailSetting": "All"}},
            "VideoPublish",
        ),
        (
            "ripPdfsJob",
            {"pdfHandleArray": ["a|pdf1"], "createMask": False, "emailSetting": "All"},
            {"postImageRenderingPublishJob": {"emailSetting": "Error"}},
            "ImageRenderingPublish",
        ),
        (
            "uploadUrlsJob",
            {"overwrite": False, "readyForPublish": True, "createMask": False, "emailSetting": "All"},
            {"postImageServingPublishJob": SERVING},
            "ImageServingPublish",
        ),
    ],
    ids=["reprocess-video", "rip-rendering", "url-upload-serving"],
)
def test_reprocess_rip_and_url_uploads_submit_their_follow_on_of_the_named_kind(
    schedules: JobLedger, kind: str, fields: dict[str, object], post: dict[str, object], expected_type: str
) -> None:
    payload = decode_payload(kind, json.dumps({**fields, **post}).encode())
    handle = run_upload(schedules, payload, "UploadSuccess", name="Batch")
    follow_on = schedules.complete(handle, at=at(10)).followOnHandle
    assert follow_on is not None and follow_on.startswith("acme||Pub_Batch_")
    assert schedules.get_job(follow_on).type == expected_type


def test_a_payload_without_a_post_publish_job_submits_no_follow_on(schedules: JobLedger) -> None:
    handle = run_upload(schedules, upload(), "UploadSuccess")
    assert schedules.complete(handle, at=at(10)).followOnHandle is None


@pytest.mark.parametrize("schedule", [False, True], ids=["run", "schedule"])
def test_naming_two_follow_on_publishes_is_refused_at_submit(schedules: JobLedger, schedule: bool) -> None:
    fields = {
        "serverDir": "in/",
        "overwrite": True,
        "readyForPublish": True,
        "includeSubfolders": False,
        "createMask": False,
        "processMetadataFiles": False,
        "emailSetting": "None",
        "postImageServingPublishJob": SERVING,
        "postVideoPublishJob": {"emailSetting": "All"},
    }
    with pytest.raises(
        RuleError, match=r"at most one follow-on publish.*postImageServingPublishJob.*postVideoPublishJob"
    ):
        payload = decode_payload("uploadDirectoryJob", json.dumps(fields).encode())
        schedules.submit("acme", "Two", payload, exec_schedule="0 0 * * * ?" if schedule else None, at=at(0))
    assert schedules.event_count() == 0


def test_a_scheduled_upload_run_submits_its_follow_on_when_it_completes(schedules: JobLedger) -> None:
    handle = schedules.submit(
        "acme", "Nightly", upload(postImageServingPublishJob=SERVING), exec_schedule="0 0 * * * ?", at=at(0)
    )
    run = schedules.fire(handle, at=T0 + timedelta(hours=1))
    assert run is not None
    schedules.start(run, "server-1", at=T0 + timedelta(hours=1, seconds=1))
    schedules.log_detail(run, "UploadSuccess", "ok", at=T0 + timedelta(hours=1, seconds=2))
    follow_on = schedules.complete(run, at=T0 + timedelta(hours=1, seconds=3)).followOnHandle
    assert follow_on is not None
    publish = schedules.get_job(follow_on)
    assert (publish.followOnOf, publish.name) == (run, "Pub_Nightly_2026-01-05-01:00:03")


def test_follow_on_through_the_cli_with_and_without_files(ledger_path: str) -> None:
    payload = json.dumps(
        {
            "serverDir": "in/",
            "overwrite": True,
            "readyForPublish": True,
            "includeSubfolders": False,
            "createMask": False,
            "processMetadataFiles": False,
            "emailSetting": "None",
            "postImageServingPublishJob": SERVING,
            "postJobOnlyIfFiles": True,
        }
    )
    handles = {}
    for name, rows in (("WithFiles", ["UploadSuccess"]), ("Empty", [])):
        handle = ok(
            ledger_path,
            "submit",
            "--company",
            "acme",
            "--name",
            name,
            "--type",
            "uploadDirectoryJob",
            "--payload",
            payload,
            "--at",
            "2026-01-05T00:00:00Z",
        ).strip()
        ok(ledger_path, "start", handle, "--server", "s1", "--at", "2026-01-05T00:00:01Z")
        for log_type in rows:
            ok(
                ledger_path,
                "log",
                handle,
                "--log-type",
                log_type,
                "--message",
                "ok",
                "--at",
                "2026-01-05T00:00:02Z",
            )
        ok(ledger_path, "complete", handle, "--at", "2026-01-05T00:00:03Z")
        handles[name] = handle

    waiting = as_json(ledger_path, "active", "--include-waiting")
    assert [(r["name"], r["originalName"], r["type"]) for r in waiting] == [
        ("Pub_WithFiles_2026-01-05-00:00:03", "WithFiles", "ImageServingPublish")
    ]
    publish = waiting[0]["jobHandle"]
    history = [
        json.loads(line)
        for line in ok(ledger_path, "history", handles["WithFiles"], "--format", "ndjson").splitlines()
    ]
    assert history[-1]["event"] == "Completed" and history[-1]["fields"]["followOnHandle"] == publish
    first = json.loads(ok(ledger_path, "history", publish, "--format", "ndjson").splitlines()[0])
    assert first["fields"]["followOnOf"] == handles["WithFiles"]
    empty = json.loads(ok(ledger_path, "history", handles["Empty"], "--format", "ndjson").splitlines()[-1])
    assert empty["fields"]["followOnHandle"] is None
