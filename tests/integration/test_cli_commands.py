"""Every job command of the CLI against a real store (SQLite file and PostgreSQL schema)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_support import event_count, ok, show, submit
from click.testing import CliRunner
from samples import MINIMAL_PAYLOADS, OPTIMIZE

from jobledger.cli.main import cli

# The IPS ActiveJob and JobLog field names `show --format json` must use (reference section 2).
IPS_FIELDS = {
    "companyHandle",
    "jobHandle",
    "name",
    "originalName",
    "type",
    "state",
    "submitUserEmail",
    "locale",
    "description",
    "serverName",
    "startDate",
    "triggerTime",
    "totalSize",
    "progress",
    "progressMessage",
    "lastProgressUpdate",
    "taskProgressArray",
    "jobName",
    "originalJobName",
    "logType",
    "jobSubType",
    "endDate",
    "fileSuccessCount",
    "fileErrorCount",
    "fileWarningCount",
    "fileDuplicateCount",
    "fileUpdateCount",
    "totalFileCount",
    "transferSuccessCount",
    "transferErrorCount",
    "transferWarningCount",
    "fatalError",
    "outcome",
}
JOB_COMMANDS = ["submit", "start", "progress", "log", "complete", "stop", "delete", "show", "history"]
TASKS = [
    {
        "taskType": "transcode",
        "taskState": "Processing",
        "numProcessed": 2,
        "numProcessing": 1,
        "numPending": 3,
        "progress": 0.4,
        "progressMessage": "2 of 6",
        "taskItemProgressArray": [{"itemName": "clip.mp4", "progress": 0.5}],
    }
]


def test_submit_prints_the_new_job_handle(db: str) -> None:
    out = ok(
        db,
        "submit",
        "--company",
        "acme",
        "--name",
        "nightly",
        "--type",
        "optimizeImagesJob",
        "--payload",
        OPTIMIZE,
        "--at",
        "2026-01-01T09:00:00Z",
    )

    assert out == "acme||nightly_2026-01-01-09:00:00\n"
    assert event_count(db) == 1


def test_submit_takes_a_time_in_any_zone_and_names_the_run_in_utc(db: str) -> None:
    handle = submit(db, "--at", "2026-01-01T11:00:00+02:00", payload=OPTIMIZE)

    assert handle == "acme||nightly_2026-01-01-09:00:00"
    assert show(db, handle)["triggerTime"] == "2026-01-01T09:00:00Z"


def test_submit_records_user_locale_and_description(db: str) -> None:
    handle = submit(
        db,
        "--user-email",
        "ops@example.com",
        "--locale",
        "de-DE",
        "--description",
        "the nightly optimise",
        payload=OPTIMIZE,
    )

    job = show(db, handle)
    assert (job["submitUserEmail"], job["locale"], job["description"]) == (
        "ops@example.com",
        "de-DE",
        "the nightly optimise",
    )


@pytest.mark.parametrize("kind", sorted(MINIMAL_PAYLOADS))
def test_each_payload_kind_can_be_submitted_and_shows_its_job_type(db: str, kind: str) -> None:
    data, job_type = MINIMAL_PAYLOADS[kind]

    handle = submit(db, kind=kind, payload=data)

    job = show(db, handle)
    assert (job["type"], job["state"]) == (job_type, "New")
    given = json.loads(data)
    assert {key: job[kind][key] for key in given} == given


def test_a_whole_job_runs_through_the_cli_and_show_uses_the_ips_field_names(db: str, tmp_path: Path) -> None:
    tasks_file = tmp_path / "tasks.json"
    tasks_file.write_text(json.dumps(TASKS))
    handle = submit(db, "--at", "2026-01-01T09:00:00Z", "--user-email", "ops@example.com", payload=OPTIMIZE)

    assert (
        ok(db, "start", handle, "--server", "srv1", "--total-size", "2048", "--at", "2026-01-01T09:00:01Z")
        == ""
    )
    ok(db, "progress", handle, "--percent", "40", "--message", "warming", "--at", "2026-01-01T09:00:02Z")
    ok(
        db,
        "progress",
        handle,
        "--percent",
        "60",
        "--tasks",
        json.dumps(TASKS),
        "--at",
        "2026-01-01T09:00:03Z",
    )
    ok(
        db,
        "progress",
        handle,
        "--percent",
        "70",
        "--message",
        "m",
        "--tasks",
        f"@{tasks_file}",
        "--at",
        "2026-01-01T09:00:04Z",
    )
    ok(db, "log", handle, "--log-type", "BeginReoptimize", "--message", "go", "--at", "2026-01-01T09:00:05Z")
    ok(
        db,
        "log",
        handle,
        "--log-type",
        "ReoptimizeSuccess",
        "--message",
        "a.jpg optimised",
        "--asset-name",
        "a.jpg",
        "--asset-type",
        "MasterImage",
        "--asset-handle",
        "acme|a.jpg",
        "--at",
        "2026-01-01T09:00:06Z",
    )
    ok(db, "log", handle, "--log-type", "fleend", "--message", "a.jpg", "--at", "2026-01-01T09:00:07Z")
    ok(db, "log", handle, "--log-type", "uploadwarning", "--message", "b.jpg", "--at", "2026-01-01T09:00:08Z")
    out = ok(db, "complete", handle, "--message", "finished", "--at", "2026-01-01T09:00:09Z")

    assert out == f"{handle}: Done, warnings\n"
    job = show(db, handle)
    assert set(job) >= IPS_FIELDS, f"missing IPS fields: {sorted(IPS_FIELDS - set(job))}"
    assert all("_" not in key for key in job), "every key is camelCase"
    assert job["companyHandle"] == "acme"
    assert job["jobHandle"] == handle
    assert (job["name"], job["jobName"]) == ("nightly_2026-01-01-09:00:00", "nightly_2026-01-01-09:00:00")
    assert (job["originalName"], job["originalJobName"]) == ("nightly", "nightly")
    assert (job["type"], job["logType"], job["jobSubType"]) == ("ImageOptimization", "BeginReoptimize", "")
    assert (job["state"], job["outcome"], job["fatalError"]) == ("Done", "warnings", False)
    assert (job["serverName"], job["totalSize"]) == ("srv1", 2048)
    assert (job["startDate"], job["endDate"]) == ("2026-01-01T09:00:01Z", "2026-01-01T09:00:09Z")
    assert (job["progress"], job["progressMessage"]) == (70, "m")
    assert job["lastProgressUpdate"] == "2026-01-01T09:00:04Z"
    assert [t["taskType"] for t in job["taskProgressArray"]] == ["transcode"]
    assert job["taskProgressArray"][0]["lastProgressUpdate"] == "2026-01-01T09:00:04Z"
    assert job["taskProgressArray"][0]["taskItemProgressArray"][0]["itemName"] == "clip.mp4"
    assert (job["fileSuccessCount"], job["fileWarningCount"], job["totalFileCount"]) == (1, 1, 2)
    assert job["optimizeImagesJob"] == {"emailSetting": "All"}
    assert event_count(db) == 10


def test_history_prints_every_event_as_ndjson_with_name_version_time_and_fields(db: str) -> None:
    handle = submit(db, "--at", "2026-01-01T09:00:00Z", payload=OPTIMIZE)
    ok(db, "start", handle, "--server", "srv1", "--at", "2026-01-01T09:00:01Z")
    ok(
        db,
        "log",
        handle,
        "--log-type",
        "BeginVideoPubl]ish",
        "--message",
        "x",
        "--at",
        "2026-01-01T09:00:02Z",
    )
    ok(db, "stop", handle, "--reason", "maintenance", "--at", "2026-01-01T09:00:03Z")
    ok(db, "complete", handle, "--at", "2026-01-01T09:00:04Z")

    lines = ok(db, "history", handle, "--format", "ndjson").splitlines()

    records = [json.loads(line) for line in lines]
    assert all(set(r) == {"event", "version", "timestamp", "fields"} for r in records)
    assert [r["event"] for r in records] == [
        "Submitted",
        "Started",
        "DetailLogged",
        "StopRequested",
        "Completed",
    ]
    assert [r["version"] for r in records] == [1, 2, 3, 4, 5]
    assert [r["timestamp"] for r in records] == [f"2026-01-01T09:00:0{n}Z" for n in range(5)]
    assert records[0]["fields"]["payload"] == {"optimizeImagesJob": {"emailSetting": "All"}}
    assert records[0]["fields"]["companyHandle"] == "acme"
    assert records[1]["fields"]["serverName"] == "srv1"
    assert records[2]["fields"]["logType"] == "BeginVideoPubl]ish"
    assert records[3]["fields"]["reason"] == "maintenance"
    assert records[4]["fields"]["fatalError"] is False


def test_history_as_a_table_has_a_row_per_event(db: str) -> None:
    handle = submit(db, payload=OPTIMIZE)
    ok(db, "start", handle, "--server", "srv1")

    lines = ok(db, "history", handle).splitlines()

    assert lines[0].split() == ["version", "timestamp", "event", "fields"]
    assert [line.split()[2] for line in lines[1:]] == ["Submitted", "Started"]


def test_show_as_a_table_lists_each_field_on_its_own_line(db: str) -> None:
    handle = submit(db, payload=OPTIMIZE)

    lines = ok(db, "show", handle).splitlines()

    assert any(re.fullmatch(r"state\s+New", line) for line in lines)
    assert any(re.fullmatch(rf"jobHandle\s+{re.escape(handle)}", line) for line in lines)


def test_stop_of_a_new_job_ends_it_at_once(db: str) -> None:
    handle = submit(db, payload=OPTIMIZE)

    assert ok(db, "stop", handle, "--reason", "not needed") == f"{handle}: Done\n"
    assert (show(db, handle)["state"], show(db, handle)["outcome"]) == ("Done", "stopped")


def test_stop_of_a_running_job_waits_for_the_runner_to_complete_it(db: str) -> None:
    handle = submit(db, payload=OPTIMIZE)
    ok(db, "start", handle, "--server", "srv1")

    assert ok(db, "stop", handle, "--user-email", "ops@example.com") == f"{handle}: Stopping\n"
    assert ok(db, "complete", handle) == f"{handle}: Done, stopped\n"


def test_complete_with_fatal_makes_the_outcome_fatal(db: str) -> None:
    handle = submit(db, payload=OPTIMIZE)
    ok(db, "start", handle, "--server", "srv1")

    assert ok(db, "complete", handle, "--fatal", "--message", "disk full") == f"{handle}: Done, fatal\n"
    assert show(db, handle)["fatalError"] is True


def test_complete_with_counters_overrides_the_counts_of_the_log(db: str) -> None:
    handle = submit(db, payload=OPTIMIZE)
    ok(db, "start", handle, "--server", "srv1")
    ok(db, "log", handle, "--log-type", "ReoptimizeSuccess", "--message", "a")

    out = ok(
        db,
        "complete",
        handle,
        "--counters",
        '{"fileSuccessCount": 7, "fileErrorCount": 2, "totalFileCount": 9}',
    )

    assert out == f"{handle}: Done, errors\n"
    job = show(db, handle)
    assert (job["fileSuccessCount"], job["fileErrorCount"], job["totalFileCount"]) == (7, 2, 9)


def test_delete_stops_a_running_job_and_keeps_its_history(db: str) -> None:
    handle = submit(db, payload=OPTIMIZE)
    ok(db, "start", handle, "--server", "srv1")

    assert ok(db, "delete", handle, "--user-email", "ops@example.com") == f"{handle}: deleted\n"
    job = show(db, handle)
    assert (job["state"], job["outcome"]) == ("Done", "stopped")
    events = [
        json.loads(line)["event"] for line in ok(db, "history", handle, "--format", "ndjson").splitlines()
    ]
    assert events == ["Submitted", "Started", "StopRequested", "Completed", "Deleted"]


def test_commands_accept_the_owning_company(db: str) -> None:
    handle = submit(db, payload=OPTIMIZE)

    ok(db, "start", handle, "--server", "srv1", "--company", "acme")
    ok(db, "progress", handle, "--percent", "5", "--company", "acme")
    assert show(db, handle)["progress"] == 5
    ok(db, "show", handle, "--company", "acme")
    ok(db, "history", handle, "--company", "acme")


def test_a_repeated_submit_with_the_same_idempotency_key_prints_the_first_handle(db: str) -> None:
    first = submit(db, "--idempotency-key", "req-1", "--at", "2026-01-01T09:00:00Z", payload=OPTIMIZE)
    count = event_count(db)

    again = submit(db, "--idempotency-key", "req-1", "--at", "2026-01-01T09:05:00Z", payload=OPTIMIZE)

    assert again == first
    assert event_count(db) == count


def test_a_submit_with_a_payload_from_a_file(db: str, tmp_path: Path) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text(MINIMAL_PAYLOADS["exportJob"][0])

    handle = submit(db, kind="exportJob", payload=f"@{payload}")

    assert show(db, handle)["exportJob"]["fmt"] == "orig"


@pytest.mark.parametrize("command", JOB_COMMANDS)
def test_every_job_command_has_help(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])

    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    assert "--at" in result.stdout or command in ("show", "history")
    assert "--company" in result.stdout


def test_the_group_lists_every_job_command() -> None:
    out = CliRunner().invoke(cli, ["--help"]).stdout

    for command in JOB_COMMANDS:
        assert re.search(rf"^\s+{command}\s+\S", out, re.M), f"{command} is not listed with a summary"


def test_progress_reads_tasks_from_standard_input_with_at_dash(db: str) -> None:
    handle = submit(db, payload=OPTIMIZE)
    ok(db, "start", handle, "--server", "srv1")

    result = CliRunner().invoke(
        cli, ["--db", db, "progress", handle, "--percent", "10", "--tasks", "@-"], input=json.dumps(TASKS)
    )

    assert result.exit_code == 0, result.output
    assert show(db, handle)["taskProgressArray"][0]["numPending"] == 3


def test_the_store_can_be_named_by_the_jobledger_db_variable(sqlite_db: str) -> None:
    args = [
        "submit",
        "--company",
        "acme",
        "--name",
        "n",
        "--type",
        "optimizeImagesJob",
        "--payload",
        OPTIMIZE,
    ]

    result = CliRunner().invoke(cli, args, env={"JOBLEDGER_DB": sqlite_db})

    assert result.exit_code == 0, result.output
    assert event_count(sqlite_db) == 1


def test_the_default_store_is_jobledger_db_in_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = [
        "submit",
        "--company",
        "acme",
        "--name",
        "n",
        "--type",
        "optimizeImagesJob",
        "--payload",
        OPTIMIZE,
    ]

    result = CliRunner().invoke(cli, args, env={"JOBLEDGER_DB": None})

    assert result.exit_code == 0, result.output
    assert event_count(str(tmp_path / "jobledger.db")) == 1


def test_jobledger_without_arguments_shows_its_help_rather_than_an_error() -> None:
    result = CliRunner().invoke(cli, [])

    assert "Usage:" in result.output
    assert "submit" in result.output
    assert "Error:" not in result.output, result.output
    assert isinstance(result.exception, SystemExit)
