"""`wait HANDLE [--timeout S]`: blocks until the run is Done and prints its final state; exit 0 on
success or warnings, 3 on errors or fatal, 4 if stopped, 124 on timeout."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from audit_support import (
    JOBLEDGER,
    OPTIMIZE,
    UPLOAD,
    Child,
    Store,
    StoreFactory,
    at,
    child_env,
    ok,
    payload,
    run,
)
from cli_checks import assert_one_line_error, explain

from jobledger.service.ledger import JobLedger

Runs = tuple[Store, dict[str, str]]


def _run(ledger: JobLedger, name: str, *, started: bool = True) -> str:
    handle = ledger.submit("acme", name, payload("uploadDirectoryJob", UPLOAD), at=at(0))
    if started:
        ledger.start(handle, "ips-1", at=at(10))
    return handle


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def runs(request: pytest.FixtureRequest, new_store: StoreFactory) -> Runs:
    """Runs that ended every way there is, and one still running."""
    store = new_store(request.param)
    ledger = store.open()
    try:
        h = {
            name: _run(ledger, name, started=name != "stopped-new")
            for name in (
                "success",
                "warnings",
                "errors",
                "fatal",
                "stopped-new",
                "stopped-running",
                "running",
            )
        }
        ledger.complete(h["success"], at=at(60))
        ledger.log_detail(h["warnings"], "UploadWarning", "small", asset_name="a.jpg", at=at(50))
        ledger.complete(h["warnings"], at=at(60))
        ledger.log_detail(h["errors"], "UploadError", "broken", asset_name="b.jpg", at=at(50))
        ledger.complete(h["errors"], at=at(60))
        ledger.complete(h["fatal"], fatal=True, message="disk full", at=at(60))
        ledger.request_stop(h["stopped-new"], reason="not needed", at=at(60))
        ledger.request_stop(h["stopped-running"], at=at(50))
        ledger.complete(h["stopped-running"], at=at(60))
        ledger.update_progress(h["running"], 40, at=at(30))
    finally:
        ledger.close()
    return store, h


@pytest.mark.parametrize(
    ("name", "outcome", "code"),
    [
        ("success", "success", 0),
        ("warnings", "warnings", 0),
        ("errors", "errors", 3),
        ("fatal", "fatal", 3),
        ("stopped-new", "stopped", 4),
        ("stopped-running", "stopped", 4),
    ],
)
def test_wait_on_a_done_run_exits_by_its_outcome_and_prints_its_final_state(
    runs: Runs, name: str, outcome: str, code: int
) -> None:
    store, handles = runs

    result = run(store, "wait", handles[name], "--format", "json")
    assert result.exit_code == code, explain(result)
    assert result.stderr == ""
    state = json.loads(result.stdout)
    assert (state["state"], state["outcome"]) == ("Done", outcome)
    assert state == json.loads(ok(store, "show", handles[name], "--format", "json"))


def test_wait_prints_the_final_state_as_show_does_in_a_table(runs: Runs) -> None:
    store, handles = runs

    result = run(store, "wait", handles["errors"])
    assert result.exit_code == 3, explain(result)
    assert result.stdout == ok(store, "show", handles["errors"])


def test_wait_times_out_with_124_naming_the_state_it_is_in(runs: Runs) -> None:
    store, handles = runs
    began = time.monotonic()

    result = run(store, "wait", handles["running"], "--timeout", "0.5")
    elapsed = time.monotonic() - began

    line = assert_one_line_error(result, 124, "timed out", handles["running"], "Running", "40%")
    assert line.startswith("Error: ")
    assert 0.5 <= elapsed < 5


def test_wait_with_timeout_on_a_done_run_returns_at_once(runs: Runs) -> None:
    store, handles = runs

    result = run(store, "wait", handles["success"], "--timeout", "0")
    assert result.exit_code == 0, explain(result)


def test_wait_on_a_schedule_or_an_unknown_handle_is_a_one_line_error(runs: Runs) -> None:
    store, _ = runs
    schedule = ok(
        store,
        *("submit", "--company", "acme", "--name", "s", "--type", "optimizeImagesJob", "--payload", OPTIMIZE),
        *("--exec-schedule", "0 0 9 * * ?", "--at", "2026-03-02T08:00:00Z"),
    ).strip()

    assert_one_line_error(run(store, "wait", schedule, "--timeout", "1"), 1, schedule, "schedule")
    assert_one_line_error(run(store, "wait", "acme||nope_2026-01-01-00:00:00", "--timeout", "1"), 1, "nope")


def test_wait_in_another_process_notices_a_run_completed_here(store: Store) -> None:
    ledger = store.open()
    try:
        handle = _run(ledger, "watched")
        child = Child(store, "wait", handle, "--timeout", "60", "--interval", "0.1", "--format", "json")
        try:
            time.sleep(1.5)
            assert child.process.poll() is None, "wait returned before the run was Done"
            ledger.log_detail(handle, "UploadWarning", "small", asset_name="a.jpg", at=at(50))
            ledger.complete(handle, at=at(60))
            completed = time.monotonic()
            code, stdout, stderr = child.finish(timeout=30)
            noticed = time.monotonic() - completed
        finally:
            child.kill()
    finally:
        ledger.close()

    assert (code, stderr) == (0, ""), stdout
    state = json.loads(stdout)
    assert (state["state"], state["outcome"], state["jobHandle"]) == ("Done", "warnings", handle)
    assert noticed < 5


def test_wait_here_notices_a_run_ended_by_another_process(sqlite_store: Store) -> None:
    ledger = sqlite_store.open()
    try:
        handle = _run(ledger, "watched")
    finally:
        ledger.close()
    # The other process finishes the run with a fatal error about a second from now.
    script = f'sleep 1 && exec "{JOBLEDGER}" --db "{sqlite_store.db}" complete "{handle}" --fatal'
    other = subprocess.Popen(["sh", "-c", script], env=child_env(), stdout=subprocess.DEVNULL)
    try:
        began = time.monotonic()
        result = run(sqlite_store, "wait", handle, "--timeout", "60", "--interval", "0.1", "--format", "json")
        elapsed = time.monotonic() - began
    finally:
        assert other.wait(timeout=30) == 0

    assert result.exit_code == 3, explain(result)
    assert json.loads(result.stdout)["outcome"] == "fatal"
    assert elapsed >= 1
