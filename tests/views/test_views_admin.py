"""`projections status|catch-up|run|rebuild|verify`, and read-your-writes across processes."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from views_support import (
    JOBLEDGER,
    OPTIMIZE,
    Catalogue,
    at,
    child_env,
    invoke,
    run_jobledger,
    seed_catalogue,
)

from jobledger.projections.views import VIEWS
from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector

ISSUE_VIEWS = ("active_jobs", "job_logs", "job_log_details")


@pytest.fixture
def seeded(job_ledger: JobLedger) -> Catalogue:
    """The seeded catalogue in the test's own ledger file, views not built yet."""
    return seed_catalogue(job_ledger)


def status(ledger_file: str) -> dict[str, dict[str, int]]:
    """`projections status --format json`, by view."""
    result = invoke("--db", ledger_file, "projections", "status", "--format", "json")
    assert result.exit_code == 0, result.stderr
    return {row.pop("view"): row for row in json.loads(result.stdout)}


def tamper(ledger_file: str, sql: str) -> None:
    """Change a view behind the projector's back, as a stray tool or a bug would."""
    with sqlite3.connect(ledger_file) as conn:
        assert conn.execute(sql).rowcount >= 1
    conn.close()


def positions(ledger_file: str) -> dict[str, int]:
    """Each view's stored position, read without catching anything up."""
    conn = sqlite3.connect(ledger_file)
    try:
        return dict(conn.execute("SELECT view, position FROM view_positions").fetchall())
    finally:
        conn.close()


# --- status and catch-up -----------------------------------------------------------------------


def test_status_shows_each_view_behind_the_store_until_a_catch_up(
    seeded: Catalogue, job_ledger: JobLedger, ledger_file: str
) -> None:
    head = job_ledger.head_position()

    before = status(ledger_file)
    caught = invoke("--db", ledger_file, "projections", "catch-up")
    after = status(ledger_file)

    assert set(ISSUE_VIEWS) <= set(before)
    empty = {"position": 0, "lag": head, "rows": 0, "quarantined": 0}
    assert all(before[name] == empty for name in ISSUE_VIEWS)
    assert caught.exit_code == 0, caught.stderr
    assert caught.stdout == f"caught up: {head} events folded, views at position {head}\n"
    assert {name: after[name] for name in ISSUE_VIEWS} == {
        "active_jobs": {"position": head, "lag": 0, "rows": 3, "quarantined": 0},
        "job_logs": {"position": head, "lag": 0, "rows": 7, "quarantined": 0},
        "job_log_details": {"position": head, "lag": 0, "rows": 10, "quarantined": 0},
    }


def test_a_second_catch_up_folds_nothing(seeded: Catalogue, ledger_file: str) -> None:
    invoke("--db", ledger_file, "projections", "catch-up")

    again = invoke("--db", ledger_file, "projections", "catch-up")

    assert again.exit_code == 0
    assert again.stdout.startswith("caught up: 0 events folded")


def test_status_table_lists_position_lag_and_rows_of_every_view(seeded: Catalogue, ledger_file: str) -> None:
    result = invoke("--db", ledger_file, "projections", "status")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["view", "position", "lag", "rows", "quarantined"]
    assert {line.split()[0] for line in lines[1:]} == set(VIEWS)


def test_status_counts_new_events_as_lag_without_folding_them(
    seeded: Catalogue, job_ledger: JobLedger, ledger_file: str
) -> None:
    invoke("--db", ledger_file, "projections", "catch-up")
    job_ledger.start(seeded.waiting, "ips-app-04", at=at(400))
    job_ledger.update_progress(seeded.waiting, 5, at=at(401))

    lagging = status(ledger_file)

    assert lagging["active_jobs"]["lag"] == 2
    assert lagging["active_jobs"]["position"] == job_ledger.head_position() - 2


# --- rebuild and verify ------------------------------------------------------------------------


def test_verify_passes_on_views_that_were_only_caught_up(seeded: Catalogue, ledger_file: str) -> None:
    result = invoke("--db", ledger_file, "projections", "verify")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "all views match a fresh rebuild\n"


@pytest.mark.parametrize(
    ("sql", "view", "says"),
    [
        pytest.param(
            "UPDATE job_logs SET progress = 99 WHERE jobHandle = '{published}'",
            "job_logs",
            "progress is 99, a rebuild gives 0",
            id="a-changed-column",
        ),
        pytest.param(
            "UPDATE active_jobs SET state = 'Running' WHERE jobHandle = '{stopping}'",
            "active_jobs",
            "state is 'Running', a rebuild gives 'Stopping'",
            id="a-changed-state",
        ),
        pytest.param(
            "DELETE FROM active_jobs WHERE jobHandle = '{waiting}'",
            "active_jobs",
            "row missing from the live view",
            id="a-missing-row",
        ),
        pytest.param(
            "INSERT INTO job_log_details SELECT jobId, version + 1000, jobHandle, companyHandle, logType,"
            " logMessage, dateCreated, assetName, assetType, assetHandle, auxArray"
            " FROM job_log_details LIMIT 1",
            "job_log_details",
            "row not in a fresh rebuild",
            id="an-extra-row",
        ),
    ],
)
def test_verify_exits_1_naming_the_view_and_the_difference_after_tampering(
    seeded: Catalogue, ledger_file: str, sql: str, view: str, says: str
) -> None:
    invoke("--db", ledger_file, "projections", "catch-up")
    tamper(ledger_file, sql.format(**seeded.__dict__))

    result = invoke("--db", ledger_file, "projections", "verify")

    assert result.exit_code == 1
    assert result.stderr == f"Error: views differ from a fresh rebuild: {view}\n"
    assert len(result.stdout.splitlines()) == 1
    assert result.stdout.startswith(f"{view} (")
    assert says in result.stdout


def test_rebuilding_the_tampered_view_makes_verify_pass_again(seeded: Catalogue, ledger_file: str) -> None:
    invoke("--db", ledger_file, "projections", "catch-up")
    tamper(ledger_file, "UPDATE job_logs SET progress = 99")

    rebuilt = invoke("--db", ledger_file, "projections", "rebuild", "job_logs")
    verified = invoke("--db", ledger_file, "projections", "verify")

    assert rebuilt.exit_code == 0, rebuilt.stderr
    assert rebuilt.stdout.startswith("rebuilt job_logs from ")
    assert verified.exit_code == 0, verified.stdout


def test_rebuilding_every_view_reads_every_event_and_keeps_the_rows(
    seeded: Catalogue, job_ledger: JobLedger, ledger_file: str
) -> None:
    invoke("--db", ledger_file, "projections", "catch-up")
    before = status(ledger_file)

    result = invoke("--db", ledger_file, "projections", "rebuild")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"rebuilt all views from {job_ledger.event_count()} events\n"
    assert status(ledger_file) == before


def test_rebuild_refuses_an_unknown_view(seeded: Catalogue, ledger_file: str) -> None:
    result = invoke("--db", ledger_file, "projections", "rebuild", "jobs")

    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("Error")] != []


@pytest.mark.parametrize("command", ["status", "catch-up", "run", "rebuild", "verify"])
def test_every_projections_command_has_help(command: str) -> None:
    result = invoke("projections", command, "--help")

    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ")


# --- run ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_keeps_the_views_up_to_date_until_a_signal_then_exits_0(
    job_ledger: JobLedger, ledger_file: str, stop_with: signal.Signals
) -> None:
    job_ledger.submit("c47", "first", OPTIMIZE, at=at(0))
    runner = subprocess.Popen(
        [JOBLEDGER, "--db", ledger_file, "projections", "run", "--interval", "0.1"],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_views_at(ledger_file, job_ledger.head_position(), runner)
        handle = job_ledger.submit("c47", "second", OPTIMIZE, at=at(10))
        job_ledger.start(handle, "ips-app-01", at=at(11))
        job_ledger.update_progress(handle, 50, at=at(12))
        waited = wait_for_views_at(ledger_file, job_ledger.head_position(), runner)
        runner.send_signal(stop_with)
        _, err = runner.communicate(timeout=10)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate()

    assert waited < 2.0
    assert runner.returncode == 0, err
    assert "stopped with the views 0 events behind the store" in err
    assert "Traceback" not in err


def wait_for_views_at(
    ledger_file: str, head: int, runner: subprocess.Popen[str], limit: float = 3.0
) -> float:
    """Seconds until every view's stored position reaches the head (fails after `limit`)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        assert runner.poll() is None, runner.communicate()
        try:
            stored = positions(ledger_file)
        except sqlite3.OperationalError:  # the runner has not created its tables yet
            stored = {}
        if all(stored.get(name) == head for name in ISSUE_VIEWS):
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"views not at {head} after {limit}s: {positions(ledger_file)}")


# --- read-your-writes across processes ---------------------------------------------------------


def test_a_query_sees_a_run_another_process_just_submitted(job_ledger: JobLedger, ledger_file: str) -> None:
    invoke("--db", ledger_file, "projections", "catch-up")

    written = run_jobledger(
        "--db",
        ledger_file,
        "submit",
        "--company",
        "c47",
        "--name",
        "from-a-child",
        "--type",
        "metadataPublishJob",
    )
    result = invoke("--db", ledger_file, "logs", "--format", "json")

    assert written.returncode == 0, written.stderr
    assert [r["jobHandle"] for r in json.loads(result.stdout)] == [written.stdout.strip()]


def test_a_projector_that_already_caught_up_sees_another_processes_change_to_a_cached_row(
    seeded: Catalogue, job_ledger: JobLedger
) -> None:
    projector = open_projector(job_ledger)
    try:
        projector.catch_up()

        started = run_jobledger("--db", job_ledger.db, "start", seeded.waiting, "--server", "ips-app-07")
        queried = run_jobledger("--db", job_ledger.db, "active", "--job", seeded.waiting, "--format", "json")
        progressed = run_jobledger("--db", job_ledger.db, "progress", seeded.waiting, "--percent", "30")
        projector.catch_up()
        rows = {
            r["jobHandle"]: r
            for r in json.loads(invoke("--db", job_ledger.db, "active", "--format", "json").stdout)
        }
    finally:
        projector.db.close()

    assert (started.returncode, progressed.returncode) == (0, 0), started.stderr + progressed.stderr
    assert [r["serverName"] for r in json.loads(queried.stdout)] == ["ips-app-07"]
    assert (rows[seeded.waiting]["state"], rows[seeded.waiting]["progress"]) == ("Running", 30)


def test_a_query_in_another_process_sees_a_run_submitted_here(
    job_ledger: JobLedger, ledger_file: str
) -> None:
    handle = job_ledger.submit("c47", "from-the-parent", OPTIMIZE, at=at(0))

    result = run_jobledger("--db", ledger_file, "active", "--include-waiting", "--format", "ndjson")

    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["jobHandle"] for line in result.stdout.splitlines()] == [handle]


# --- views files -------------------------------------------------------------------------------


def test_views_kept_in_a_separate_file_match_views_kept_in_the_ledger(
    seeded: Catalogue, ledger_file: str, tmp_path: Path
) -> None:
    own = invoke("--db", ledger_file, "logs", "--format", "json")
    separate = invoke("--db", ledger_file, "--views", str(tmp_path / "views.db"), "logs", "--format", "json")

    assert separate.exit_code == 0, separate.stderr
    assert json.loads(separate.stdout) == json.loads(own.stdout)


def test_a_views_file_built_from_one_sqlite_ledger_is_not_used_for_another(tmp_path: Path) -> None:
    views = str(tmp_path / "shared-views.db")
    first, second = str(tmp_path / "first.db"), str(tmp_path / "second.db")
    for path, company in ((first, "c1"), (second, "c2")):
        ledger = JobLedger(path)
        ledger.submit(company, f"{company}-job", OPTIMIZE, at=at(0))
        ledger.close()
    assert invoke("--db", first, "--views", views, "projections", "catch-up").exit_code == 0

    result = invoke("--db", second, "--views", views, "logs", "--format", "json")

    # Either refused with one line, or the second ledger's own runs: never the first one's.
    if result.exit_code == 1:
        assert result.stderr.startswith("Error: views database")
        assert len(result.stderr.splitlines()) == 1
    else:
        assert result.exit_code == 0, result.stderr
        assert [r["companyHandle"] for r in json.loads(result.stdout)] == ["c2"]
