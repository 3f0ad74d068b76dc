"""`events`: every stored event in global order with its position, filtered by company, job, event
name and position; NDJSON and table; `--follow` in a second process on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import pytest
from audit_support import OPTIMIZE, Child, Handles, Store, StoreFactory, at, fill, ok, payload, run
from cli_checks import assert_one_line_error

RECORD_KEYS = {"position", "event", "handle", "companyHandle", "version", "timestamp", "fields"}


def events(store: Store, *args: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in ok(store, "events", *args).splitlines()]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def filled(request: pytest.FixtureRequest, new_store: StoreFactory) -> tuple[Store, Handles]:
    """A store holding the whole varied history (the tests here only read it)."""
    store = new_store(request.param)
    return store, fill(store)


def test_events_are_printed_in_global_order_with_consecutive_positions(filled: tuple[Store, Handles]) -> None:
    store, _ = filled
    records = events(store)

    assert [r["position"] for r in records] == list(range(1, len(records) + 1))
    assert len(records) == 34
    assert all(set(r) == RECORD_KEYS for r in records)
    assert [r["timestamp"] for r in records] == sorted(r["timestamp"] for r in records)
    assert records[0]["timestamp"] == "2026-03-02T08:00:00Z"


def test_each_events_record_names_its_job_company_version_and_fields(filled: tuple[Store, Handles]) -> None:
    store, handles = filled
    records = events(store)

    for handle in [*handles.all_runs(), *handles.schedules.values()]:
        mine = [r for r in records if r["handle"] == handle and r["event"] != "IdempotencyKeyClaimed"]
        history = [
            json.loads(line) for line in ok(store, "history", handle, "--format", "ndjson").splitlines()
        ]
        assert [(r["event"], r["version"], r["timestamp"]) for r in mine] == [
            (h["event"], h["version"], h["timestamp"]) for h in history
        ], handle
        assert {r["companyHandle"] for r in mine} == {handle.split("|")[0]}
    started = next(r for r in records if r["event"] == "Started")
    assert started["fields"] == {"serverName": "ips-1", "startDate": "2026-03-02T08:02:00Z", "totalSize": 400}
    claimed = next(r for r in records if r["event"] == "IdempotencyKeyClaimed")
    assert claimed["handle"] == handles.runs["waiting"]
    assert (claimed["companyHandle"], claimed["fields"]["key"]) == ("globex", "k-1")


def test_events_of_one_company(filled: tuple[Store, Handles]) -> None:
    store, _ = filled
    everything = events(store)

    globex = events(store, "--company", "globex")
    assert globex == [r for r in everything if r["companyHandle"] == "globex"]
    assert {r["handle"].split("|")[0] for r in globex} == {"globex"}
    assert 0 < len(globex) < len(everything)
    assert events(store, "--company", "nobody") == []


def test_events_of_one_job(filled: tuple[Store, Handles]) -> None:
    store, handles = filled
    everything = events(store)

    for handle in (handles.runs["upload"], handles.schedules["daily"]):
        mine = events(store, "--job", handle)
        assert mine == [
            r for r in everything if r["handle"] == handle and r["event"] != "IdempotencyKeyClaimed"
        ]
        assert [r["version"] for r in mine] == list(range(1, len(mine) + 1))


def test_events_of_some_names_with_the_event_option_repeated(filled: tuple[Store, Handles]) -> None:
    store, _ = filled
    everything = events(store)

    chosen = events(store, "--event", "Completed", "--event", "Fired", "--event", "Paused")
    assert chosen == [r for r in everything if r["event"] in ("Completed", "Fired", "Paused")]
    assert {r["event"] for r in chosen} == {"Completed", "Fired", "Paused"}


def test_events_after_a_position(filled: tuple[Store, Handles]) -> None:
    store, _ = filled
    everything = events(store)

    assert events(store, "--after", "30") == everything[30:]
    assert events(store, "--after", "0") == everything
    assert events(store, "--after", str(len(everything))) == []


def test_events_filters_combine(filled: tuple[Store, Handles]) -> None:
    store, handles = filled
    everything = events(store)

    combined = events(store, "--company", "acme", "--event", "Started", "--after", "10")
    assert combined == [
        r
        for r in everything
        if r["companyHandle"] == "acme" and r["event"] == "Started" and r["position"] > 10
    ]
    assert len(combined) == 3
    upload = handles.runs["upload"]
    assert events(store, "--job", upload, "--company", "globex") == []


def test_events_as_a_table_has_one_row_per_event_with_its_position(filled: tuple[Store, Handles]) -> None:
    store, _ = filled
    everything = events(store)

    lines = ok(store, "events", "--format", "table").splitlines()
    assert lines[0].split() == ["position", "time", "event", "handle", "v"]
    rows = [line.split() for line in lines[1:]]
    assert [(int(r[0]), r[3]) for r in rows] == [(e["position"], e["event"]) for e in everything]
    assert rows[0][1:3] == ["2026-03-02", "08:00:00"]
    assert ok(store, "events", "--format", "table", "--after", "999") == ""


def test_events_rejects_an_unknown_event_name(filled: tuple[Store, Handles]) -> None:
    store, _ = filled

    assert_one_line_error(run(store, "events", "--event", "Exploded"), 2, "Exploded")


def test_follow_prints_events_written_afterwards_within_a_second_and_stops_on_sigterm(store: Store) -> None:
    ledger = store.open()
    try:
        first = ledger.submit("acme", "first", payload("optimizeImagesJob", OPTIMIZE), at=at(0))
        child = Child(store, "events", "--follow")
        try:
            # The event already stored comes first: once it is out, the process is following.
            assert json.loads(child.next_line(timeout=30))["handle"] == first
            latencies = []
            for step in range(3):
                time.sleep(0.3)
                written = time.monotonic()
                if step == 0:
                    ledger.start(first, "ips-1", at=at(10))
                else:
                    ledger.update_progress(first, 10 * step, at=at(10 + step))
                record = json.loads(child.next_line(timeout=5))
                latencies.append(time.monotonic() - written)
                assert (record["position"], record["handle"]) == (2 + step, first)
            second = ledger.submit("globex", "second", payload("optimizeImagesJob", OPTIMIZE), at=at(20))
            record = json.loads(child.next_line(timeout=5))
            assert (record["event"], record["handle"], record["companyHandle"]) == (
                "Submitted",
                second,
                "globex",
            )

            child.process.send_signal(signal.SIGTERM)
            code, rest, stderr = child.finish(timeout=10)
        finally:
            child.kill()
    finally:
        ledger.close()

    assert max(latencies) < 1.2, latencies
    assert (code, rest, stderr) == (0, "", "")


def test_follow_applies_its_filters_to_new_events(store: Store) -> None:
    ledger = store.open()
    try:
        first = ledger.submit("acme", "first", payload("optimizeImagesJob", OPTIMIZE), at=at(0))
        child = Child(store, "events", "--follow", "--company", "globex")
        try:
            ledger.start(first, "ips-1", at=at(5))
            second = ledger.submit("globex", "second", payload("optimizeImagesJob", OPTIMIZE), at=at(10))
            ledger.update_progress(first, 50, at=at(15))
            ledger.start(second, "ips-2", at=at(20))
            printed = [json.loads(child.next_line(timeout=30)), json.loads(child.next_line(timeout=5))]
            ledger.update_progress(first, 60, at=at(25))
            time.sleep(0.6)
            child.process.send_signal(signal.SIGTERM)
            code, rest, stderr = child.finish(timeout=10)
        finally:
            child.kill()
    finally:
        ledger.close()

    assert [(r["event"], r["handle"], r["position"]) for r in printed] == [
        ("Submitted", second, 3),
        ("Started", second, 5),
    ]
    assert (code, rest, stderr) == (0, "", "")


def test_follow_on_an_idle_ledger_stops_on_sigint_too(sqlite_store: Store) -> None:
    ledger = sqlite_store.open()
    try:
        ledger.submit("acme", "first", payload("optimizeImagesJob", OPTIMIZE), at=at(0))
    finally:
        ledger.close()
    child = Child(sqlite_store, "events", "--follow")
    try:
        child.next_line(timeout=30)
        child.process.send_signal(signal.SIGINT)
        code, rest, stderr = child.finish(timeout=10)
    finally:
        child.kill()

    assert (code, rest, stderr) == (0, "", "")
