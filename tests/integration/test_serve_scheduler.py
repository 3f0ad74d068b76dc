"""`jobledger serve` fires its ledger's due schedules itself, through its writer, and notices the
events another process appends to the ledger (its views and its streams catch up with them)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from server_support import Served, job_path, serving

from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import JobLedger

T = TypeVar("T")
PAYLOAD = {"emailSetting": "All"}
WITHIN_S = 20.0  # ticks are a second apart; a loaded CI machine gets slack


@pytest.fixture
def served(db: str, tmp_path: Path) -> Iterator[Served]:
    views = str(tmp_path / "views.db") if db.startswith("postgresql") else None
    with serving(db, views) as server:
        yield server


def eventually(look: Callable[[], T | None], what: str, within: float = WITHIN_S) -> T:
    """What `look` finds, once it finds anything (asked every 0.2 s)."""
    deadline = time.monotonic() + within
    while True:
        found = look()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within:.0f} s")
        time.sleep(0.2)


def schedule(served: Served, name: str, **timing: Any) -> str:
    body = {"companyHandle": "acme", "jobName": name, "optimizeImagesJob": PAYLOAD, **timing}
    status, created = served.call("POST", "/v1/jobs", body)
    assert status == 201, created
    return str(created["jobHandle"])


def runs_of(served: Served, name: str) -> list[dict[str, Any]]:
    status, page = served.call("GET", "/v1/active-jobs?includeWaitingJobs=true&companyHandle=acme")
    assert status == 200
    return [row for row in page["activeJobArray"] if row["originalName"] == name]


def history(served: Served, handle: str) -> list[dict[str, Any]]:
    status, events = served.call("GET", job_path(handle, "history"))
    assert status == 200
    return list(events["events"])


def test_a_one_off_schedule_fires_once_when_its_time_comes(served: Served) -> None:
    at = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    handle = schedule(served, "Once", execTime=at.isoformat().replace("+00:00", "Z"))
    assert runs_of(served, "Once") == []  # not yet

    (run,) = eventually(lambda: runs_of(served, "Once"), "the schedule's run")
    assert run["triggerTime"].startswith(at.strftime("%Y-%m-%dT%H:%M:%S"))
    fired = [event for event in history(served, handle) if event["event"] == "Fired"]
    assert len(fired) == 1 and fired[0]["fields"]["runHandle"] == run["jobHandle"]
    status, scheduled = served.call("GET", "/v1/scheduled-jobs?companyHandle=acme")
    assert status == 200 and scheduled["scheduledJobArray"] == []  # Complete: off the list
    time.sleep(2.5)  # more ticks: no second run for the same fire time
    assert len(runs_of(served, "Once")) == 1


def test_a_recurring_schedule_keeps_firing_until_it_is_paused(served: Served) -> None:
    handle = schedule(served, "Often", execSchedule="*/2 * * * * ?")
    eventually(lambda: len(runs_of(served, "Often")) >= 2, "two runs of a schedule every 2 s")
    assert served.call("POST", job_path(handle, "pause"), {})[0] == 200
    time.sleep(1.5)  # a tick already under way may still fire once
    paused = len(runs_of(served, "Often"))
    time.sleep(4.5)
    assert len(runs_of(served, "Often")) == paused


def test_a_schedule_in_the_past_fires_at_the_next_tick(served: Served) -> None:
    schedule(served, "Late", execTime="2026-01-01T00:00:00Z")
    (run,) = eventually(lambda: runs_of(served, "Late"), "the late schedule's run")
    assert run["triggerTime"].startswith("2026-01-01T00:00:00")


def test_events_another_process_appends_reach_the_views_and_the_stream(served: Served) -> None:
    status, position = served.call("GET", "/v1/position")
    assert status == 200
    ledger = JobLedger(served.db, create=False)  # a second writer, as a submit on the host is
    try:
        handle = ledger.submit(
            "acme", "FromTheHost", decode_payload("optimizeImagesJob", b'{"emailSetting": "All"}')
        )
    finally:
        ledger.close()
    # No minPosition: the query answers from the views, which catch up within a tick or two.
    eventually(lambda: runs_of(served, "FromTheHost"), "the run another process submitted")
    status, text = served.call("GET", f"/v1/events?after={position['position']}")
    assert status == 200 and handle in str(text)


@pytest.mark.parametrize(
    ("timing", "says"),
    [
        ({"execTime": "2030-01-01T00:00:00Z", "execSchedule": "0 0 * * *"}, "at most one of execTime"),
        ({"execSchedule": "0 0 0 30 2 ?"}, "never fires"),
        ({"execSchedule": "0 0 * * *", "timeZone": "Mars/X"}, "unknown time zone"),
        ({"timeZone": "Mars/X"}, "unknown time zone"),  # no schedule: the zone must still be one
    ],
)
def test_impossible_schedule_times_are_a_400_and_append_nothing(
    served: Served, timing: dict[str, str], says: str
) -> None:
    before = served.call("GET", "/v1/position")[1]["position"]
    body = {"companyHandle": "acme", "jobName": "Bad", "optimizeImagesJob": PAYLOAD, **timing}
    status, answer = served.call("POST", "/v1/jobs", body)
    assert (status, answer["error"]["code"]) == (400, "invalid_value") and says in answer["error"]["message"]
    assert served.call("GET", "/v1/position")[1]["position"] == before
