"""The query commands (active, logs, details, asset-logs): every option, every format, every error."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from terminal_support import clock_at, on_a_terminal
from views_support import (
    ACTIVE_JOB_KEYS,
    ANA,
    ASSET_LOG_KEYS,
    DETAIL_KEYS,
    JOB_LOG_KEYS,
    LONG_MESSAGE,
    UPLOADING_DETAILS,
    Catalogue,
    assert_usage_error,
    at,
    invoke,
    iso,
    seed_catalogue,
)

from jobledger.service.ledger import JobLedger

FORMATS = ["table", "json", "ndjson", "csv"]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Catalogue]:
    """A ledger file holding the seeded catalogue (the queries only ever catch its views up)."""
    path = str(tmp_path_factory.mktemp("queries") / "ledger.db")
    ledger = JobLedger(path)
    try:
        catalogue = seed_catalogue(ledger)
    finally:
        ledger.close()
    return path, catalogue


@pytest.fixture
def db(seeded: tuple[str, Catalogue]) -> str:
    """The seeded ledger's path."""
    return seeded[0]


@pytest.fixture
def runs(seeded: tuple[str, Catalogue]) -> Catalogue:
    """The seeded runs' handles."""
    return seeded[1]


def as_json(db: str, *args: str) -> Any:
    """A query's JSON answer (and a check that it succeeded quietly)."""
    result = invoke("--db", db, *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def handles(records: list[dict[str, Any]]) -> list[str]:
    """The jobHandle of each record, in order."""
    return [record["jobHandle"] for record in records]


def same_instants(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with their dateCreated parsed, so that equal instants compare equal however written."""
    return [{**row, "dateCreated": datetime.fromisoformat(row["dateCreated"])} for row in rows]


def assert_fits_80_columns(text: str) -> None:
    """Every line of a table fits an 80-column terminal."""
    too_wide = [line for line in text.splitlines() if len(line) > 80]
    assert not too_wide, too_wide


# --- active ------------------------------------------------------------------------------------


def test_active_lists_running_and_stopping_runs_but_not_waiting_done_or_deleted_ones(
    db: str, runs: Catalogue
) -> None:
    assert handles(as_json(db, "active")) == [runs.uploading, runs.stopping]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(["--company", "c47"], ["uploading"], id="company-c47"),
        pytest.param(["--company", "c6"], ["stopping"], id="company-c6"),
        pytest.param(["--company", "c0"], [], id="company-without-runs"),
        pytest.param(["--job", "{uploading}"], ["uploading"], id="job"),
        pytest.param(["--job", "{published}"], [], id="job-that-is-done"),
        pytest.param(["--original-name", "spring-upload"], ["uploading"], id="original-name"),
        pytest.param(["--include-waiting"], ["uploading", "waiting", "stopping"], id="include-waiting"),
        pytest.param(["--state", "New"], ["waiting"], id="state-New-implies-waiting"),
        pytest.param(["--state", "Running"], ["uploading"], id="state-Running"),
        pytest.param(["--state", "Stopping"], ["stopping"], id="state-Stopping"),
        pytest.param(["--type", "ImageOptimization"], ["stopping"], id="type"),
        pytest.param(["--server", "ips-app-01"], ["uploading", "stopping"], id="server"),
        pytest.param(["--server", "ips-app-02"], [], id="server-whose-runs-are-done"),
        pytest.param(
            ["--company", "c47", "--include-waiting", "--type", "MetadataPublish"],
            ["waiting"],
            id="company-waiting-and-type-together",
        ),
    ],
)
def test_active_filters_by_each_option(
    db: str, runs: Catalogue, options: list[str], expected: list[str]
) -> None:
    args = [option.format(**runs.__dict__) for option in options]

    assert handles(as_json(db, "active", *args)) == [getattr(runs, name) for name in expected]


def test_active_json_has_the_active_job_fields_the_payload_under_its_kind_and_an_eta(
    db: str, runs: Catalogue
) -> None:
    record = as_json(db, "active", "--job", runs.uploading)[0]

    assert set(record) == ACTIVE_JOB_KEYS | {"uploadDirectoryJob"}
    assert record["uploadDirectoryJob"]["serverDir"] == "incoming/spring/"
    assert "kind" not in record["uploadDirectoryJob"]
    assert (record["state"], record["serverName"], record["progress"]) == ("Running", "ips-app-01", 40)
    assert (record["companyHandle"], record["originalName"], record["submitUserEmail"]) == (
        "c47",
        "spring-upload",
        ANA,
    )
    assert (record["startDate"], record["lastProgressUpdate"]) == (iso(60), iso(180))
    assert [task["taskType"] for task in record["taskProgressArray"]] == ["Upload"]
    # 10% at t=120, 40% at t=180: 0.5%/s, so the last 60% take 120 s more.
    assert record["eta"] == iso(300)


def test_active_json_gives_no_eta_before_two_progress_points(db: str, runs: Catalogue) -> None:
    record = as_json(db, "active", "--job", runs.stopping)[0]

    assert (record["progress"], record["eta"]) == (25, None)


def test_active_table_in_a_pipe_shows_every_column_whole_with_dated_times(db: str, runs: Catalogue) -> None:
    # Not a terminal (CliRunner): nothing is cut or left out, whatever COLUMNS says (80 here).
    result = invoke("--db", db, "active", "--include-waiting")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["job", "type", "state", "server", "progress", "eta", "age", "last", "update"]
    assert len(lines) == 4
    assert "…" not in result.stdout
    uploading = next(line for line in lines if runs.uploading in line)
    assert "####" in uploading
    assert "40%" in uploading
    # The ETA is not today, so it shows its date; long past, so the run is marked stalled.
    assert "2026-01-01 09:05:00" in uploading
    assert "Running, stalled" in uploading


def test_active_table_on_a_terminal_drops_optional_columns_but_never_cuts_a_handle(
    db: str, runs: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_a_terminal(monkeypatch, columns=80)
    clock_at(monkeypatch, at(150))

    lines = invoke("--db", db, "active", "--include-waiting").stdout.splitlines()

    # At 80 columns the optional type, server, age and last-update columns give way.
    assert lines[0].split() == ["job", "state", "progress", "eta"]
    assert lines[-1] == "(3 rows)"
    uploading = next(line for line in lines if runs.uploading in line)
    assert "40%" in uploading
    assert "09:05:00" in uploading  # today: the time alone
    assert "stalled" not in uploading
    assert {runs.uploading, runs.waiting, runs.stopping} <= {line.split()[0] for line in lines}


def test_active_refuses_a_state_that_is_not_live(db: str) -> None:
    assert_usage_error(invoke("--db", db, "active", "--state", "Done"), "--state")


# --- logs --------------------------------------------------------------------------------------

# Start (or, for the waiting run, submit) times of the seeded runs.
STARTS = {
    "uploading": 60,
    "published": 70,
    "waiting": 20,
    "stopping": 90,
    "fatal": 100,
    "deleted": 110,
    "failed_upload": 65,
}


def by_start(runs: Catalogue, names: list[str], *, descending: bool = True) -> list[str]:
    """Handles of the named runs in order of their start times."""
    ordered = sorted(names, key=STARTS.__getitem__, reverse=descending)
    return [getattr(runs, name) for name in ordered]


def test_logs_lists_every_run_live_done_or_deleted_latest_start_first(db: str, runs: Catalogue) -> None:
    assert handles(as_json(db, "logs")) == by_start(runs, list(STARTS))


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(["--company", "c6"], ["stopping", "fatal"], id="company"),
        pytest.param(["--user", ANA], ["uploading", "waiting", "failed_upload"], id="user"),
        pytest.param(
            ["--since", "2026-01-01T09:01:30Z"], ["stopping", "fatal", "deleted"], id="since-inclusive"
        ),
        pytest.param(
            ["--until", "2026-01-01T09:01:05"],
            ["uploading", "waiting", "failed_upload"],
            id="until-naive-is-utc",
        ),
        pytest.param(
            ["--since", "2026-01-01T10:01:00+01:00", "--until", "2026-01-01T09:01:10Z"],
            ["uploading", "failed_upload", "published"],
            id="since-and-until-with-zones",
        ),
        pytest.param(["--since", "2026-01-02"], [], id="since-a-later-day"),
        pytest.param(["--outcome", "success"], ["published"], id="outcome-success"),
        pytest.param(["--outcome", "errors"], ["failed_upload"], id="outcome-errors"),
        pytest.param(["--outcome", "fatal"], ["fatal"], id="outcome-fatal"),
        pytest.param(["--outcome", "stopped"], ["deleted"], id="outcome-stopped-includes-deleted"),
        pytest.param(["--outcome", "warnings"], [], id="outcome-warnings"),
        pytest.param(
            ["--company", "c47", "--user", ANA, "--outcome", "errors"], ["failed_upload"], id="combined"
        ),
    ],
)
def test_logs_filters_by_each_option(
    db: str, runs: Catalogue, options: list[str], expected: list[str]
) -> None:
    assert handles(as_json(db, "logs", *options)) == by_start(runs, expected)


def test_logs_limit_keeps_the_first_rows_of_the_order(db: str, runs: Catalogue) -> None:
    assert handles(as_json(db, "logs", "--limit", "2")) == by_start(runs, list(STARTS))[:2]
    assert (
        handles(as_json(db, "logs", "--limit", "2", "--direction", "Ascending"))
        == by_start(runs, list(STARTS), descending=False)[:2]
    )


def _start_or_submit(record: dict[str, Any]) -> Any:
    return record["startDate"] or iso(STARTS["waiting"])


SORT_KEYS = {
    "JobName": lambda r: r["jobName"],
    "LogType": lambda r: r["logType"],
    "StartDate": _start_or_submit,
    "CompanyName": lambda r: r["companyHandle"],
    "UserId": lambda r: r["submitUserEmail"],
    "Email": lambda r: r["submitUserEmail"],
    "FileErrorCount": lambda r: r["fileErrorCount"],
    "FileWarningCount": lambda r: r["fileWarningCount"],
    "FileSuccessCount": lambda r: r["fileSuccessCount"],
}


@pytest.mark.parametrize("direction", ["Ascending", "Descending"])
@pytest.mark.parametrize("sort_by", list(SORT_KEYS))
def test_logs_sorts_by_each_field_in_both_directions_with_ties_in_handle_order(
    db: str, sort_by: str, direction: str
) -> None:
    records = as_json(db, "logs", "--sort-by", sort_by, "--direction", direction)

    key = SORT_KEYS[sort_by]
    expected = sorted(records, key=lambda r: (key(r), r["jobHandle"]), reverse=direction == "Descending")
    assert handles(records) == handles(expected)
    assert len(records) == len(STARTS)


def test_logs_json_has_the_job_log_fields_outcome_and_end_date_of_done_and_deleted_runs(
    db: str, runs: Catalogue
) -> None:
    records = {r["jobHandle"]: r for r in as_json(db, "logs")}

    for record in records.values():
        assert set(record) - JOB_LOG_KEYS == {record_kind(record)}
        assert set(record) >= JOB_LOG_KEYS
    published, deleted, live = records[runs.published], records[runs.deleted], records[runs.uploading]
    assert (published["state"], published["outcome"], published["endDate"]) == ("Done", "success", iso(300))
    assert published["jobSubType"] == "full"
    assert (deleted["state"], deleted["outcome"], deleted["endDate"]) == ("Done", "stopped", iso(170))
    assert (live["outcome"], live["endDate"], live["logType"]) == (None, None, "BeginUpload")
    assert (live["fileSuccessCount"], live["fileWarningCount"], live["fileErrorCount"]) == (3, 1, 1)
    assert (live["fileUpdateCount"], live["totalFileCount"]) == (1, 6)
    assert records[runs.fatal]["fatalError"] is True


def record_kind(record: dict[str, Any]) -> str:
    """The one key of a record that is a payload kind (its value is the payload)."""
    kinds = [key for key in record if key.endswith("Job")]
    assert len(kinds) == 1, record
    return kinds[0]


def test_logs_table_in_a_pipe_has_a_row_per_run_and_every_column_whole(db: str) -> None:
    result = invoke("--db", db, "logs")

    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1 + len(STARTS)
    assert result.stdout.split()[:5] == ["job", "type", "started", "outcome", "ok/wn/er"]
    assert "…" not in result.stdout


def test_logs_table_fits_80_columns_on_a_terminal_with_a_row_per_run_and_a_count(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_a_terminal(monkeypatch, columns=80)
    clock_at(monkeypatch, at(600))
    result = invoke("--db", db, "logs")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 + len(STARTS) + 1
    assert lines[-1] == f"({len(STARTS)} rows)"
    # At 80 columns the optional type column gives way to whole handles.
    assert result.stdout.split()[:4] == ["job", "started", "outcome", "ok/wn/er"]
    assert "…" not in result.stdout
    assert_fits_80_columns(result.stdout)


def test_logs_table_tells_two_runs_of_the_same_job_apart_within_80_columns(db: str, runs: Catalogue) -> None:
    # Both spring-upload runs (submitted 55 s apart) must not look alike: the job column is what
    # an operator copies into `details` or `stop`.
    lines = invoke("--db", db, "logs", "--user", ANA).stdout.splitlines()[1:]

    job_cells = [line.split("  ")[0] for line in lines]
    assert len(set(job_cells)) == len(job_cells), job_cells


@pytest.mark.parametrize(
    ("options", "named"),
    [
        pytest.param(["--sort-by", "Duration"], "--sort-by", id="unknown-sort-field"),
        pytest.param(["--sort-by", "jobname"], "--sort-by", id="sort-field-in-the-wrong-case"),
        pytest.param(["--direction", "Up"], "--direction", id="unknown-direction"),
        pytest.param(["--limit", "0"], "--limit", id="limit-0"),
        pytest.param(["--limit", "many"], "--limit", id="limit-not-a-number"),
        pytest.param(["--since", "yesterday"], "--since", id="malformed-since"),
        pytest.param(["--until", "2026-13-01T00:00:00Z"], "--until", id="impossible-until"),
        pytest.param(["--outcome", "ok"], "--outcome", id="unknown-outcome"),
    ],
)
def test_logs_refuses_bad_filter_values_with_one_error_line(db: str, options: list[str], named: str) -> None:
    assert_usage_error(invoke("--db", db, "logs", *options), named)


# --- details -----------------------------------------------------------------------------------


def test_details_json_is_the_job_log_with_detail_total_rows_and_every_detail_row_in_date_order(
    db: str, runs: Catalogue
) -> None:
    record = as_json(db, "details", runs.uploading)

    assert set(record) == JOB_LOG_KEYS | {"uploadDirectoryJob", "detailTotalRows", "detailArray"}
    assert record["jobHandle"] == runs.uploading
    assert record["detailTotalRows"] == len(UPLOADING_DETAILS)
    rows = record["detailArray"]
    assert all(set(row) == DETAIL_KEYS for row in rows)
    assert [(r["logType"], r["logMessage"]) for r in rows] == [(t, m) for t, m, _, _ in UPLOADING_DETAILS]
    assert [r["dateCreated"] for r in rows] == [iso(130 + 5 * i) for i in range(len(rows))]
    warning = rows[2]
    assert (warning["assetName"], warning["assetType"], warning["assetHandle"]) == (
        "boot.tif",
        "MasterImage",
        "a|boot",
    )
    assert same_instants(warning["auxArray"]) == [
        {"logMessage": "profile missing", "logType": "UploadWarning", "dateCreated": at(140)}
    ]
    assert (rows[0]["assetName"], rows[0]["auxArray"]) == (None, [])


@pytest.mark.parametrize(
    ("options", "expected_types"),
    [
        pytest.param(["--log-type", "UploadSuccess"], ["UploadSuccess"] * 3, id="one-log-type"),
        pytest.param(
            ["--log-type", "UploadSuccess", "--log-type", "uploadwarning"],
            ["UploadSuccess", "UploadWarning", "UploadSuccess", "UploadSuccess"],
            id="log-type-repeated-any-case",
        ),
        pytest.param(["--log-type", "FatalError"], [], id="log-type-without-rows"),
        pytest.param(
            ["--sort-by", "LogType"],
            [
                "BeginUpload",
                "FileUpdated",
                "UploadError",
                "UploadSuccess",
                "UploadSuccess",
                "UploadSuccess",
                "UploadWarning",
            ],
            id="sort-by-log-type",
        ),
        pytest.param(
            ["--sort-by", "Date", "--direction", "Descending"],
            [t for t, _, _, _ in reversed(UPLOADING_DETAILS)],
            id="sort-by-date-descending",
        ),
    ],
)
def test_details_filters_and_sorts_the_detail_rows(
    db: str, runs: Catalogue, options: list[str], expected_types: list[str]
) -> None:
    record = as_json(db, "details", runs.uploading, *options)

    assert [row["logType"] for row in record["detailArray"]] == expected_types
    assert record["detailTotalRows"] == len(expected_types)


def test_details_sorted_by_log_type_keeps_rows_of_one_type_in_date_order(db: str, runs: Catalogue) -> None:
    rows = as_json(db, "details", runs.uploading, "--sort-by", "LogType")["detailArray"]

    successes = [row["dateCreated"] for row in rows if row["logType"] == "UploadSuccess"]
    assert successes == sorted(successes)


@pytest.mark.parametrize(
    ("page", "per_page", "expected_count"),
    [
        pytest.param(1, 3, 3, id="first-page"),
        pytest.param(2, 3, 3, id="second-page"),
        pytest.param(3, 3, 1, id="last-page-holds-the-rest"),
        pytest.param(4, 3, 0, id="page-past-the-end-is-empty"),
        pytest.param(1, 1000, 7, id="the-largest-page"),
        pytest.param(7, 1, 1, id="one-row-per-page"),
    ],
)
def test_details_pages_count_every_matching_row_but_show_one_page(
    db: str, runs: Catalogue, page: int, per_page: int, expected_count: int
) -> None:
    everything = as_json(db, "details", runs.uploading)["detailArray"]

    record = as_json(db, "details", runs.uploading, "--page", str(page), "--per-page", str(per_page))

    assert record["detailTotalRows"] == len(everything)
    start = (page - 1) * per_page
    assert record["detailArray"] == everything[start : start + per_page]
    assert len(record["detailArray"]) == expected_count


def test_details_pages_put_together_give_every_row_once(db: str, runs: Catalogue) -> None:
    pages = [
        as_json(db, "details", runs.uploading, "--per-page", "2", "--page", str(page), "--sort-by", "LogType")
        for page in (1, 2, 3, 4)
    ]

    together = [row for page in pages for row in page["detailArray"]]
    everything = as_json(db, "details", runs.uploading, "--sort-by", "LogType")["detailArray"]
    assert together == everything
    assert {page["detailTotalRows"] for page in pages} == {7}


def test_details_paging_applies_after_the_log_type_filter(db: str, runs: Catalogue) -> None:
    record = as_json(
        db, "details", runs.uploading, "--log-type", "UploadSuccess", "--per-page", "2", "--page", "2"
    )

    assert record["detailTotalRows"] == 3
    assert [row["logMessage"] for row in record["detailArray"]] == ["glove.tif uploaded"]


def test_details_ndjson_and_csv_list_the_detail_rows(db: str, runs: Catalogue) -> None:
    ndjson = invoke("--db", db, "details", runs.uploading, "--format", "ndjson")
    table = invoke("--db", db, "details", runs.uploading, "--format", "csv")

    rows = [json.loads(line) for line in ndjson.stdout.splitlines()]
    assert rows == as_json(db, "details", runs.uploading)["detailArray"]
    parsed = list(csv.reader(io.StringIO(table.stdout)))
    assert parsed[0] == [
        "logMessage",
        "logType",
        "dateCreated",
        "assetName",
        "assetType",
        "assetHandle",
        "auxArray",
    ]
    assert [line[0] for line in parsed[1:]] == [row["logMessage"] for row in rows]
    assert json.loads(parsed[3][6]) == rows[2]["auxArray"]


def test_details_table_in_a_pipe_shows_the_summary_and_whole_messages(db: str, runs: Catalogue) -> None:
    result = invoke("--db", db, "details", runs.uploading)

    assert result.exit_code == 0, result.stderr
    assert f"jobHandle        {runs.uploading}" in result.stdout
    assert "detailTotalRows  7" in result.stdout
    assert LONG_MESSAGE in result.stdout


def test_details_table_on_a_terminal_cuts_only_messages_to_fit_80_columns(
    db: str, runs: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_a_terminal(monkeypatch, columns=80)
    result = invoke("--db", db, "details", runs.uploading)

    assert result.exit_code == 0, result.stderr
    assert f"jobHandle        {runs.uploading}" in result.stdout
    assert LONG_MESSAGE[:20] in result.stdout
    assert LONG_MESSAGE not in result.stdout
    assert_fits_80_columns(result.stdout)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        pytest.param(["--per-page", "0"], "--per-page", id="per-page-0"),
        pytest.param(["--per-page", "1001"], "--per-page", id="per-page-1001"),
        pytest.param(["--page", "0"], "--page", id="page-0"),
        pytest.param(["--page", "-1"], "--page", id="page-negative"),
        pytest.param(["--sort-by", "Asset"], "--sort-by", id="unknown-sort-field"),
        pytest.param(["--direction", "Down"], "--direction", id="unknown-direction"),
        pytest.param(["--log-type", "UploadFinished"], "--log-type", id="unknown-log-type"),
    ],
)
def test_details_refuses_bad_filter_values_with_one_error_line(
    db: str, runs: Catalogue, options: list[str], named: str
) -> None:
    assert_usage_error(invoke("--db", db, "details", runs.uploading, *options), named)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["c47||no-such-run_2026-01-01-09:00:00"], id="unknown-handle"),
        pytest.param(["{uploading}", "--company", "c6"], id="handle-of-another-company"),
    ],
)
def test_details_of_an_unknown_handle_exits_1_with_one_line(
    db: str, runs: Catalogue, args: list[str]
) -> None:
    result = invoke("--db", db, "details", *[arg.format(**runs.__dict__) for arg in args])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: no job with handle")
    assert len(result.stderr.splitlines()) == 1


def test_details_of_a_fatal_run_show_its_fatal_error_row(db: str, runs: Catalogue) -> None:
    record = as_json(db, "details", runs.fatal)

    assert (record["outcome"], record["detailTotalRows"]) == ("fatal", 1)
    assert record["detailArray"][0]["logType"] == "FatalError"


# --- asset-logs --------------------------------------------------------------------------------


def test_asset_logs_lists_every_detail_row_naming_the_asset_in_the_company_oldest_first(
    db: str, runs: Catalogue
) -> None:
    records = as_json(db, "asset-logs", "a|boot", "--company", "c47")

    assert all(set(record) == ASSET_LOG_KEYS for record in records)
    assert [(r["jobHandle"], r["logType"], r["logDate"]) for r in records] == [
        (runs.failed_upload, "UploadError", iso(75)),
        (runs.uploading, "UploadWarning", iso(140)),
    ]
    assert records[1]["jobName"] == runs.uploading.split("||")[1]
    assert records[1]["submitUserEmail"] == ANA
    assert records[1]["logMessage"] == LONG_MESSAGE
    assert same_instants(records[1]["auxArray"]) == [
        {"logMessage": "profile missing", "logType": "UploadWarning", "dateCreated": at(140)}
    ]
    assert records[0]["auxArray"] == []


@pytest.mark.parametrize(
    ("asset", "company"),
    [
        pytest.param("a|boot", "c6", id="asset-of-another-company"),
        pytest.param("a|nothing", "c47", id="asset-without-rows"),
    ],
)
def test_asset_logs_finds_nothing_outside_the_company_or_for_an_unnamed_asset(
    db: str, asset: str, company: str
) -> None:
    assert as_json(db, "asset-logs", asset, "--company", company) == []


def test_asset_logs_requires_a_company(db: str) -> None:
    assert_usage_error(invoke("--db", db, "asset-logs", "a|boot"), "--company")


# --- every format of every query ---------------------------------------------------------------

QUERIES = {
    "active": (["active", "--include-waiting"], ACTIVE_JOB_KEYS),
    "logs": (["logs"], JOB_LOG_KEYS),
    "details": (["details", "{uploading}"], DETAIL_KEYS),
    "asset-logs": (["asset-logs", "a|boot", "--company", "c47"], ASSET_LOG_KEYS),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", list(QUERIES))
def test_every_query_answers_the_same_rows_in_every_format(
    db: str, runs: Catalogue, name: str, fmt: str
) -> None:
    args, keys = QUERIES[name]
    args = [arg.format(**runs.__dict__) for arg in args]
    expected = as_json(db, *args)
    rows = expected["detailArray"] if name == "details" else expected

    result = invoke("--db", db, *args, "--format", fmt)

    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert rows
    if fmt == "json":
        assert json.loads(result.stdout) == expected
    elif fmt == "ndjson":
        assert [json.loads(line) for line in result.stdout.splitlines()] == rows
        assert all(keys <= set(row) for row in rows)
    elif fmt == "csv":
        parsed = list(csv.DictReader(io.StringIO(result.stdout)))
        assert len(parsed) == len(rows)
        assert set(parsed[0]) <= keys
        column = "logMessage" if name == "details" else "jobHandle"
        assert [line[column] for line in parsed] == [row[column] for row in rows]
    else:
        # In a pipe every cell is whole: handles can be pasted into the next command.
        assert "…" not in result.stdout
        if name != "details":
            assert len(result.stdout.splitlines()) == 1 + len(rows)
            assert all(row["jobHandle"] in result.stdout for row in rows)


@pytest.mark.parametrize("name", list(QUERIES))
def test_every_query_refuses_an_unknown_format(db: str, runs: Catalogue, name: str) -> None:
    args = [arg.format(**runs.__dict__) for arg in QUERIES[name][0]]

    assert_usage_error(invoke("--db", db, *args, "--format", "xml"), "--format")


@pytest.mark.parametrize("name", list(QUERIES))
def test_every_query_has_help(name: str) -> None:
    result = invoke(QUERIES[name][0][0], "--help")

    assert result.exit_code == 0
    assert "--format" in result.stdout


@pytest.mark.parametrize("name", list(QUERIES))
def test_every_query_on_a_missing_ledger_exits_1_without_creating_it(tmp_path: Path, name: str) -> None:
    missing = tmp_path / "nothing-here.db"
    args = [arg.format(uploading="c||x") for arg in QUERIES[name][0]]

    result = invoke("--db", str(missing), *args)

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no ledger at")
    assert len(result.stderr.splitlines()) == 1
    assert not missing.exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_queries_on_an_empty_ledger_answer_with_no_rows(
    job_ledger: JobLedger, ledger_file: str, fmt: str
) -> None:
    result = invoke("--db", ledger_file, "logs", "--format", fmt)

    assert result.exit_code == 0, result.stderr
    assert {"json": "[]\n", "ndjson": ""}.get(fmt, result.stdout) == result.stdout
    assert len(result.stdout.splitlines()) <= 1
