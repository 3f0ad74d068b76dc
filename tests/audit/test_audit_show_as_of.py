"""`show HANDLE --as-of T` and `--version N`: the state of a run or schedule as it was, compared with
snapshots of `show` recorded while the history was written."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from audit_support import OPTIMIZE, UPLOAD, Store, StoreFactory, at, event_count, iso, ok, run
from cli_checks import assert_one_line_error

TASKS = json.dumps([{"taskType": "UrlFetch", "numProcessed": 2, "numPending": 2, "progress": 0.5}])


@dataclass(frozen=True)
class Snapshot:
    """What `show` printed right after a step written at `seconds`."""

    seconds: float
    json: dict[str, Any]
    table: str


def snapshot(store: Store, handle: str, seconds: float) -> Snapshot:
    return Snapshot(
        seconds,
        json.loads(ok(store, "show", handle, "--format", "json")),
        ok(store, "show", handle),
    )


def write_run(store: Store) -> tuple[str, list[Snapshot]]:
    """A run driven through the CLI with explicit times, interleaved with another company's run."""
    handle = ok(
        store,
        *("submit", "--company", "acme", "--name", "upload", "--type", "uploadDirectoryJob"),
        *("--payload", UPLOAD, "--user-email", "ann@acme.test", "--at", iso(0)),
    ).strip()
    other = ok(
        store,
        *("submit", "--company", "globex", "--name", "other", "--type", "optimizeImagesJob"),
        *("--payload", OPTIMIZE, "--at", iso(10)),
    ).strip()
    snapshots = [snapshot(store, handle, 10)]
    steps: list[tuple[float, tuple[str, ...]]] = [
        (60, ("start", handle, "--server", "ips-1", "--total-size", "100")),
        (120, ("progress", handle, "--percent", "20", "--message", "fetching", "--tasks", TASKS)),
        (180, ("log", handle, "--log-type", "UploadSuccess", "--message", "a", "--asset-name", "a.jpg")),
        (240, ("log", handle, "--log-type", "UploadWarning", "--message", "b", "--asset-name", "b.jpg")),
        (300, ("progress", handle, "--percent", "90", "--server", "ips-7")),
        (360, ("complete", handle, "--message", "finished")),
    ]
    for seconds, args in steps:
        ok(store, *args, "--at", iso(seconds))
        # Another job's events in between must not leak into this one's state.
        ok(
            store,
            "start" if seconds == 60 else "progress",
            other,
            *_other_args(seconds),
            "--at",
            iso(seconds + 5),
        )
        snapshots.append(snapshot(store, handle, seconds + 5))
    return handle, snapshots


def _other_args(seconds: float) -> tuple[str, ...]:
    if seconds == 60:
        return ("--server", "ips-2")
    return ("--percent", str(int(seconds // 10)))


def write_schedule(store: Store) -> tuple[str, list[Snapshot]]:
    """A recurring schedule: created, fired by the scheduler, paused, resumed, executed, deleted."""
    handle = ok(
        store,
        *("submit", "--company", "acme", "--name", "daily", "--type", "optimizeImagesJob"),
        *("--payload", OPTIMIZE, "--exec-schedule", "0 0 9 * * ?", "--at", iso(0)),
    ).strip()
    snapshots = [snapshot(store, handle, 0)]
    steps: list[tuple[float, tuple[str, ...]]] = [
        (3600, ("scheduler", "tick")),
        (3700, ("pause", handle)),
        (3800, ("resume", handle)),
        (3900, ("execute", handle)),
        (4000, ("delete", handle)),
    ]
    for seconds, args in steps:
        ok(store, *args, "--at", iso(seconds))
        snapshots.append(snapshot(store, handle, seconds))
    return handle, snapshots


Written = tuple[Store, str, list[Snapshot]]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def a_run(request: pytest.FixtureRequest, new_store: StoreFactory) -> Written:
    """A run's history in a store, written once for this module's tests (which only read it)."""
    store = new_store(request.param)
    return (store, *write_run(store))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def a_schedule(request: pytest.FixtureRequest, new_store: StoreFactory) -> Written:
    """A schedule's history in a store, written once for this module's tests."""
    store = new_store(request.param)
    return (store, *write_schedule(store))


def test_show_as_of_each_moment_gives_the_state_recorded_then(a_run: Written) -> None:
    store, handle, snapshots = a_run

    assert [s.json["state"] for s in snapshots] == [
        "New",
        "Running",
        "Running",
        "Running",
        "Running",
        "Running",
        "Done",
    ]
    for s in snapshots:
        assert json.loads(ok(store, "show", handle, "--as-of", iso(s.seconds), "--format", "json")) == s.json
        # Nothing was written between two steps: any moment until the next one gives the same state.
        later = iso(s.seconds + 19)
        assert json.loads(ok(store, "show", handle, "--as-of", later, "--format", "json")) == s.json
        assert ok(store, "show", handle, "--as-of", iso(s.seconds)) == s.table


def test_show_version_n_gives_the_state_after_the_first_n_events(a_run: Written) -> None:
    store, handle, snapshots = a_run

    for s in snapshots:
        version = str(s.json["version"])
        assert json.loads(ok(store, "show", handle, "--version", version, "--format", "json")) == s.json
        assert ok(store, "show", handle, "--version", version) == s.table


def test_show_as_of_a_time_after_the_last_event_is_the_current_state(a_run: Written) -> None:
    store, handle, snapshots = a_run

    now = ok(store, "show", handle, "--format", "json")
    assert json.loads(now) == snapshots[-1].json
    assert ok(store, "show", handle, "--as-of", "2100-01-01T00:00:00Z", "--format", "json") == now


def test_show_as_of_reads_a_time_without_zone_as_utc_and_honours_an_offset(a_run: Written) -> None:
    store, handle, snapshots = a_run
    moment = at(snapshots[2].seconds)

    naive = moment.replace(tzinfo=None).isoformat()
    offset = (moment + timedelta(hours=2)).replace(tzinfo=None).isoformat() + "+02:00"
    for text in (naive, offset):
        assert json.loads(ok(store, "show", handle, "--as-of", text, "--format", "json")) == snapshots[2].json


def test_show_as_of_and_version_of_a_schedule_give_the_state_recorded_then(a_schedule: Written) -> None:
    store, handle, snapshots = a_schedule

    assert [(s.json["triggerState"], s.json["runCount"], s.json["deleted"]) for s in snapshots] == [
        ("Normal", 0, False),
        ("Normal", 1, False),
        ("Paused", 1, False),
        ("Normal", 1, False),
        ("Normal", 2, False),
        ("Normal", 2, True),
    ]
    for s in snapshots:
        assert json.loads(ok(store, "show", handle, "--as-of", iso(s.seconds), "--format", "json")) == s.json
        version = str(s.json["version"])
        assert json.loads(ok(store, "show", handle, "--version", version, "--format", "json")) == s.json


def test_show_as_of_before_the_job_existed_is_a_one_line_error(a_run: Written) -> None:
    store, handle, _ = a_run
    count = event_count(store)

    line = assert_one_line_error(
        run(store, "show", handle, "--as-of", iso(-1)), 1, handle, "did not exist", "2026-03-02T08:00:00"
    )
    assert "created" in line
    assert event_count(store) == count


def test_show_as_of_before_a_schedule_existed_is_a_one_line_error(a_schedule: Written) -> None:
    store, handle, _ = a_schedule

    assert_one_line_error(run(store, "show", handle, "--as-of", iso(-60), "--format", "json"), 1, handle)


def test_show_version_0_is_a_usage_error(a_run: Written) -> None:
    store, handle, _ = a_run

    assert_one_line_error(run(store, "show", handle, "--version", "0"), 2, "--version")


@pytest.mark.parametrize("beyond", [1, 50])
def test_show_version_beyond_the_last_names_the_versions_there_are(a_run: Written, beyond: int) -> None:
    store, handle, snapshots = a_run
    last = snapshots[-1].json["version"]

    assert_one_line_error(
        run(store, "show", handle, "--version", str(last + beyond)), 1, handle, f"1 to {last}"
    )


def test_show_as_of_an_unknown_handle_is_a_one_line_error(a_run: Written) -> None:
    store = a_run[0]

    assert_one_line_error(
        run(store, "show", "acme||nope_2026-03-02-08:00:00", "--as-of", iso(600)), 1, "nope"
    )


def test_show_as_of_a_malformed_time_is_a_usage_error(a_run: Written) -> None:
    store, handle, _ = a_run

    assert_one_line_error(run(store, "show", handle, "--as-of", "yesterday"), 2, "yesterday")
