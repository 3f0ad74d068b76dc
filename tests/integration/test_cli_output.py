"""Output that fits pipes, scripts and people: whole cells in a pipe, shaped tables on a terminal,
escaped free text, one time format, every format where it makes sense, limits, filters, colour."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from cli_checks import assert_one_line_error, explain
from click.testing import CliRunner, Result
from samples import OPTIMIZE, at
from terminal_support import clock_at, on_a_terminal

from jobledger.cli.main import cli
from jobledger.cli.timefmt import STALLED_AFTER
from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import JobLedger

TRICKY = "red \x1b[31mALERT\x1b[0m\nforged line\tand a tab"
LONG_NAME = "quarterly-catalogue-refresh-for-every-regional-storefront-and-the-outlet-site-" * 2


@dataclass(frozen=True)
class Ledger:
    db: str
    long: str  # running, started at(0), a progress report at(60) with TRICKY as its message
    done: str  # done with warnings at(200)
    deleted: str  # deleted at(300), after it ran
    upload: str  # a URL upload, running on ips-app-02, last report at(100)


@pytest.fixture
def ledger(sqlite_db: str) -> Iterator[Ledger]:
    """A small ledger with fixed times: runs live, done and deleted, free text with controls."""
    api = JobLedger(sqlite_db)
    try:
        optimize = decode_payload("optimizeImagesJob", OPTIMIZE)
        upload_payload = decode_payload(
            "uploadUrlsJob",
            '{"overwrite": true, "readyForPublish": false, "createMask": false, "emailSetting": "All"}',
        )
        long = api.submit("acme", LONG_NAME, optimize, description=TRICKY, at=at(-10))
        api.start(long, "ips-app-01", at=at(0))
        api.update_progress(long, 10, message=TRICKY, at=at(60))
        api.log_detail(long, "FileUpdated", TRICKY, at=at(61))
        done = api.submit("acme", "done", optimize, at=at(100))
        api.start(done, "ips-app-01", at=at(110))
        api.log_detail(done, "FileUpdated", "one warning", at=at(120))
        api.log_detail(done, "UploadWarning", "one warning", at=at(130))
        api.complete(done, at=at(200))
        deleted = api.submit("globex", "gone", optimize, at=at(150))
        api.start(deleted, "ips-app-03", at=at(160))
        api.delete(deleted, at=at(300))
        upload = api.submit("globex", "urls", upload_payload, at=at(20))
        api.start(upload, "ips-app-02", at=at(30))
        api.update_progress(upload, 50, at=at(100))
    finally:
        api.close()
    yield Ledger(sqlite_db, long, done, deleted, upload)


def run(db: str, *args: str, color: bool = False) -> Result:
    """`jobledger --db DB ARGS`; with color, click keeps the ANSI codes a terminal would get."""
    return CliRunner().invoke(cli, ["--db", db, *args], color=color)


def ok(db: str, *args: str, color: bool = False) -> str:
    result = run(db, *args, color=color)
    assert result.exit_code == 0, explain(result)
    assert result.stderr == "", explain(result)
    return result.stdout


def as_json(db: str, *args: str) -> Any:
    return json.loads(ok(db, *args, "--format", "json"))


# --- no truncation in a pipe; on a terminal only free text is cut --------------------------------


def test_a_table_in_a_pipe_is_never_cut_so_a_handle_can_be_pasted_into_the_next_command(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "40")  # a narrow terminal elsewhere changes nothing in a pipe

    line = next(line for line in ok(ledger.db, "logs").splitlines() if LONG_NAME[:30] in line)
    handle = line.split()[0]

    assert handle == ledger.long
    assert "…" not in ok(ledger.db, "logs")
    assert ok(ledger.db, "details", handle, "--format", "json")


@pytest.mark.parametrize(
    "command", [["logs"], ["active"], ["details", "{long}"], ["events", "--format", "table"]]
)
def test_on_a_terminal_handles_stay_whole_and_the_table_ends_with_its_count(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    on_a_terminal(monkeypatch, columns=60)
    out = ok(ledger.db, *[arg.format(long=ledger.long) for arg in command])

    assert ledger.long in out
    assert out.splitlines()[-1].startswith("(")
    assert out.splitlines()[-1].endswith(("rows)", "row)", "events)"))


def test_on_a_terminal_free_text_is_cut_and_wide_shows_everything(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_a_terminal(monkeypatch, columns=70)

    cut = ok(ledger.db, "details", ledger.long).split("\ndate ", 1)[1]
    wide = ok(ledger.db, "details", ledger.long, "--wide")
    logs = ok(ledger.db, "logs")
    logs_wide = ok(ledger.db, "logs", "--wide")

    assert "…" in cut
    assert all(len(line) <= 70 for line in cut.splitlines())
    assert "…" not in wide
    assert "\\x1b[31mALERT\\x1b[0m\\nforged line\\tand a tab" in wide
    assert logs.split()[:2] == ["job", "started"]  # the optional type column gave way
    assert logs_wide.split()[:3] == ["job", "type", "started"]
    assert logs_wide.splitlines()[-1] == "(4 rows)"


def test_no_row_count_in_a_pipe(ledger: Ledger) -> None:
    lines = ok(ledger.db, "logs").splitlines()

    assert len(lines) == 1 + 4
    assert not lines[-1].startswith("(")


# --- free text is escaped in tables, kept exactly in JSON ----------------------------------------


@pytest.mark.parametrize("terminal", [False, True], ids=["pipe", "terminal"])
@pytest.mark.parametrize(
    "command",
    [
        ["details", "{long}"],
        ["show", "{long}"],
        ["history", "{long}"],
        ["asset-logs", "nothing", "--company", "acme"],
        ["events", "--format", "table"],
        ["active", "--wide"],
    ],
)
def test_tables_escape_control_characters_and_newlines_in_free_text(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, terminal: bool, command: list[str]
) -> None:
    if terminal:
        on_a_terminal(monkeypatch, columns=500)
    out = ok(ledger.db, *[arg.format(long=ledger.long) for arg in command], color=True)

    assert "\x1b" not in out
    assert "\t" not in out
    assert all("forged line" not in line[:12] for line in out.splitlines())
    if command[0] in ("details", "show", "history"):
        assert "\\x1b[31mALERT\\x1b[0m\\nforged line\\tand a tab" in out


def test_json_keeps_free_text_exactly_and_escaped(ledger: Ledger) -> None:
    out = ok(ledger.db, "details", ledger.long, "--format", "json")

    assert "\x1b" not in out
    assert json.loads(out)["detailArray"][0]["logMessage"] == TRICKY
    assert as_json(ledger.db, "show", ledger.long)["progressMessage"] == TRICKY


# --- colour ----------------------------------------------------------------------------------


def test_states_and_outcomes_are_coloured_on_a_terminal_only(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_a_terminal(monkeypatch, columns=300)
    monkeypatch.delenv("NO_COLOR")

    coloured = ok(ledger.db, "logs", color=True)
    assert "\x1b[33mwarnings" in coloured
    assert "\x1b[34m\x1b[1mRunning" in coloured
    assert "\x1b[" not in ok(ledger.db, "logs", "--no-color", color=True)
    assert "\x1b[" not in ok(ledger.db, "--no-color", "logs", color=True)
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in ok(ledger.db, "logs", color=True)


def test_no_colour_in_a_pipe(ledger: Ledger) -> None:
    out = [ok(ledger.db, *args, color=True) for args in (["logs"], ["active"], ["show", ledger.done])]

    assert "\x1b[" not in "".join(out)


# --- one time format --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "key"),
    [
        (["logs", "--format", "ndjson"], "startDate"),
        (["active", "--format", "json"], "lastProgressUpdate"),
        (["show", "{long}", "--format", "json"], "startDate"),
        (["history", "{long}", "--format", "ndjson"], "timestamp"),
        (["events", "--format", "ndjson"], "timestamp"),
    ],
)
def test_json_and_ndjson_times_are_iso_8601_in_utc_with_the_zone(
    ledger: Ledger, command: list[str], key: str
) -> None:
    out = ok(ledger.db, *[arg.format(long=ledger.long) for arg in command])
    first = (
        json.loads(out)
        if out.startswith(("[", "{")) and "\n{" not in out
        else json.loads(out.splitlines()[0])
    )
    record = first[0] if isinstance(first, list) else first

    assert record[key].endswith("Z"), record[key]
    assert record[key].startswith("2026-01-01T0")


def test_csv_times_are_iso_8601_with_the_zone(ledger: Ledger) -> None:
    assert "2026-01-01T09:01:50.000000Z" in ok(ledger.db, "logs", "--format", "csv")


def test_table_times_show_the_date_unless_today(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    clock_at(monkeypatch, at(400))
    today = ok(ledger.db, "logs")
    clock_at(monkeypatch, at(400) + timedelta(days=1))
    tomorrow = ok(ledger.db, "logs")

    assert "  09:01:50  " in today
    assert "2026-01-01 09:01:50" not in today
    assert "2026-01-01 09:01:50" in tomorrow


def test_active_shows_age_and_last_update_and_marks_stalled_runs(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The upload's last report was at(100); the long run's at(60).
    clock_at(monkeypatch, at(60) + STALLED_AFTER - timedelta(seconds=20))
    lines = ok(ledger.db, "active").splitlines()
    upload = next(line for line in lines if ledger.upload in line)
    long = next(line for line in lines if ledger.long in line)

    assert lines[0].split()[-3:] == ["age", "last", "update"]
    assert "14m ago" in upload
    assert upload.split()[-3] == "15m"  # age since its start at(30)
    assert "stalled" not in upload
    assert "stalled" not in long

    clock_at(monkeypatch, at(60) + STALLED_AFTER + timedelta(seconds=1))
    lines = ok(ledger.db, "active").splitlines()
    assert "Running, stalled" in next(line for line in lines if ledger.long in line)
    assert "stalled" not in next(line for line in lines if ledger.upload in line)


def test_active_as_of_measures_ages_from_that_moment(ledger: Ledger) -> None:
    line = next(line for line in ok(ledger.db, "active", "--as-of", "2026-01-01T09:02:00Z").splitlines()[1:])

    assert "1m ago" in line or "0s ago" in line or "20s ago" in line


# --- every format that makes sense ------------------------------------------------------------


@pytest.mark.parametrize("command", [["show", "{done}"], ["history", "{done}"], ["wait", "{done}"]])
def test_show_history_and_wait_take_json_and_ndjson(ledger: Ledger, command: list[str]) -> None:
    args = [arg.format(done=ledger.done) for arg in command]
    as_ndjson = [json.loads(line) for line in ok(ledger.db, *args, "--format", "ndjson").splitlines()]
    parsed = as_json(ledger.db, *args)

    assert (parsed if isinstance(parsed, list) else [parsed]) == as_ndjson


def test_history_table_prints_nested_values_as_json(ledger: Ledger) -> None:
    first = ok(ledger.db, "history", ledger.done).splitlines()[1]

    assert 'payload={"optimizeImagesJob":{"emailSetting":"All"}}' in first
    assert "{'" not in first


def test_events_is_ndjson_in_a_pipe_and_a_table_on_a_terminal(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    json.loads(ok(ledger.db, "events").splitlines()[0])
    on_a_terminal(monkeypatch, columns=200)
    out = ok(ledger.db, "events")
    assert out.split()[:5] == ["position", "time", "event", "handle", "v"]
    assert out.splitlines()[-1] == "(17 events)"


def test_events_tables_printed_apart_keep_the_same_columns(ledger: Ledger) -> None:
    # --follow prints each poll's events as its own piece under one header: fixed widths align them.
    first = ok(ledger.db, "events", "--format", "table", "--limit", "1").splitlines()
    later = ok(ledger.db, "events", "--format", "table", "--after", "16").splitlines()

    def starts(line: str) -> list[int]:
        return [line.index(word) for word in line.split()]

    assert starts(first[0]) == starts(later[0])
    assert starts(first[1])[:3] == starts(later[1])[:3]


# --- limits and filters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "total"),
    [
        (["active", "--include-waiting"], 2),
        (["logs"], 4),
        (["history", "{long}"], 4),
        (["events"], 17),
        (["scheduled"], 0),
    ],
)
def test_limit_caps_every_list(ledger: Ledger, command: list[str], total: int) -> None:
    args = [arg.format(long=ledger.long) for arg in command]
    full = ok(ledger.db, *args, "--format", "ndjson").splitlines()
    limited = ok(ledger.db, *args, "--limit", "1", "--format", "ndjson").splitlines()

    assert len(full) == total
    assert limited == full[:1]


def test_limit_caps_details_and_asset_logs(ledger: Ledger) -> None:
    details = as_json(ledger.db, "details", ledger.done, "--limit", "1")
    assert details["detailTotalRows"] == 2
    assert len(details["detailArray"]) == 1
    assert run(ledger.db, "asset-logs", "a", "--company", "acme", "--limit", "1").exit_code == 0


def handles(records: list[dict[str, Any]]) -> set[str]:
    return {record["jobHandle"] for record in records}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--state", "Running"], {"long", "upload"}),
        (["--state", "Done"], {"done", "deleted"}),
        (["--type", "UrlUpload"], {"upload"}),
        (["--type", "uploadUrlsJob"], {"upload"}),
        (["--type", "urlupload"], {"upload"}),
        (["--server", "ips-app-01"], {"long", "done"}),
        (["--deleted"], {"deleted"}),
        (["--no-deleted"], {"long", "done", "upload"}),
        ([], {"long", "done", "deleted", "upload"}),
    ],
)
def test_logs_filters_by_state_type_server_and_deleted(
    ledger: Ledger, options: list[str], expected: set[str]
) -> None:
    assert handles(as_json(ledger.db, "logs", *options)) == {getattr(ledger, name) for name in expected}


def test_deleted_runs_are_marked_in_the_logs_table_and_json(ledger: Ledger) -> None:
    records = {r["jobHandle"]: r for r in as_json(ledger.db, "logs")}
    line = next(line for line in ok(ledger.db, "logs").splitlines() if ledger.deleted in line)

    assert records[ledger.deleted]["deleted"] is True
    assert records[ledger.done]["deleted"] is False
    assert "stopped, deleted" in line


def test_active_type_takes_a_payload_kind_as_its_job_type(ledger: Ledger) -> None:
    assert handles(as_json(ledger.db, "active", "--type", "uploadUrlsJob")) == {ledger.upload}
    assert as_json(ledger.db, "active", "--type", "uploadUrlsJob") == as_json(
        ledger.db, "active", "--type", "UrlUpload"
    )


@pytest.mark.parametrize("command", ["active", "logs"])
def test_an_unknown_type_is_a_usage_error_naming_the_values(ledger: Ledger, command: str) -> None:
    assert_one_line_error(
        run(ledger.db, command, "--type", "uploadUrls"), 2, "--type", "UrlUpload", "jobledger kinds"
    )


@pytest.mark.parametrize("command", [["active"], ["logs"], ["scheduled"], ["asset-logs", "a"]])
def test_a_company_that_matches_nothing_is_named_on_stderr_on_a_terminal(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    assert run(ledger.db, *command, "--company", "acmee").stderr == ""  # a pipe: no remark
    on_a_terminal(monkeypatch)

    result = run(ledger.db, *command, "--company", "acmee")
    known = run(ledger.db, *command, "--company", "acme")

    assert result.exit_code == 0, explain(result)
    assert "no company 'acmee'" in result.stderr
    assert "acme, globex" in result.stderr
    assert known.stderr == ""


def test_show_with_version_and_as_of_together_is_a_usage_error(ledger: Ledger) -> None:
    result = run(ledger.db, "show", ledger.done, "--version", "2", "--as-of", "2026-01-01T09:05:00Z")

    assert_one_line_error(result, 2, "--as-of", "--version")


# --- vocabularies -----------------------------------------------------------------------------


def test_kinds_lists_every_payload_kind_with_its_job_type_and_required_fields() -> None:
    records = json.loads(CliRunner().invoke(cli, ["kinds", "--format", "json"]).stdout)
    by_kind = {record["kind"]: record for record in records}

    assert len(records) == 13
    assert by_kind["uploadUrlsJob"]["type"] == "UrlUpload"
    assert set(by_kind["uploadUrlsJob"]["required"]) == {
        "overwrite",
        "readyForPublish",
        "createMask",
        "emailSetting",
    }
    assert "uploadUrlsJob" in CliRunner().invoke(cli, ["kinds"]).stdout


def test_log_types_lists_every_log_type_and_what_a_misspelling_means() -> None:
    records = [
        json.loads(line)
        for line in CliRunner().invoke(cli, ["log-types", "--format", "ndjson"]).stdout.splitlines()
    ]
    means = {record["logType"]: record["means"] for record in records}

    assert means["UploadWarning"] is None
    assert means["FleEnd"] == "FileEnd"
    assert len(records) > 100


@pytest.mark.parametrize(
    ("args", "pointer"),
    [
        (["submit", "--company", "a", "--name", "n", "--type", "uploadUrl"], "jobledger kinds"),
        (
            ["submit", "--company", "a", "--name", "n", "--type", "uploadUrlsJob", "--payload", "{{}}"],
            "jobledger kinds",
        ),
        (["log", "{long}", "--log-type", "UploadWarn", "--message", "m"], "jobledger log-types"),
        (["details", "{long}", "--log-type", "UploadWarn"], "jobledger log-types"),
    ],
)
def test_errors_about_a_vocabulary_point_at_the_command_that_lists_it(
    ledger: Ledger, args: list[str], pointer: str
) -> None:
    result = run(ledger.db, *[arg.format(long=ledger.long) for arg in args])

    assert pointer in assert_one_line_error(result, result.exit_code)
    assert result.exit_code in (1, 2)


def test_events_of_the_ledger_are_what_the_fixture_wrote(ledger: Ledger) -> None:
    # The counts the tests above rely on.
    assert len(ok(ledger.db, "events", "--format", "ndjson").splitlines()) == 17
    assert msgspec.json.decode(ok(ledger.db, "show", ledger.deleted, "--format", "json"))["deleted"] is True


def test_log_types_are_listed_in_one_order_whatever_the_hash_seed() -> None:
    import os
    import subprocess
    import sys

    def listed(seed: str) -> str:
        command = [sys.executable, "-m", "jobledger.cli", "log-types", "--format", "json"]
        env = {**os.environ, "PYTHONHASHSEED": seed}
        return subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout

    assert len({listed(seed) for seed in ("1", "2", "3", "4")}) == 1
