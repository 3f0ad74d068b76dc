"""One bad stored event never takes the ledger down: rows that do not decode, injected behind the
ledger's back (SQL) or linked through it (the import path), are quarantined by the views, named by
`projections status`, `audit verify`, `export`, `events`, `history` and `show`, and every other
event still reads."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from typing import Any
from uuid import UUID, uuid4

import msgspec
import pytest
from audit_support import OPTIMIZE, Store, Tables, at, fill, payload, run
from cli_checks import assert_one_line_error, explain

from jobledger.domain.events import ProgressUpdated, Started, Submitted
from jobledger.domain.handles import job_id
from jobledger.projections.views import VIEWS
from jobledger.store.codec import event_topic
from jobledger.store.reader import Stored

SUBMITTED = event_topic(Submitted)
PROGRESS = event_topic(ProgressUpdated)
UNKNOWN = "jobledger.domain.events:Nonesuch"
NOT_MSGPACK = b"\xc1\xc1"
# Valid MessagePack, but not a ProgressUpdated: a float where an int belongs (what A1 stops at the API).
WRONG_TYPES = msgspec.msgpack.encode(
    {
        "originator_id": str(uuid4()),
        "originator_version": 3,
        "timestamp": "2026-03-02T10:00:00Z",
        "progress": 50.5,
    }
)


def views_file(store: Store) -> str:
    return store.views or store.db


def quarantined(store: Store) -> list[int]:
    with closing(sqlite3.connect(views_file(store))) as conn:
        return [row[0] for row in conn.execute("SELECT position FROM quarantine ORDER BY position")]


def view_rows(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    with closing(sqlite3.connect(views_file(store))) as conn:
        return {name: sorted(conn.execute(f"SELECT * FROM [{name}]"), key=repr) for name in VIEWS}


def head(store: Store) -> int:
    ledger = store.open()
    try:
        return ledger.head_position()
    finally:
        ledger.close()


def ok(store: Store, *args: str) -> str:
    result = run(store, *args)
    assert result.exit_code == 0, explain(result)
    assert "Traceback" not in result.output, explain(result)
    return result.stdout


def submit_good(store: Store, name: str) -> str:
    """A run submitted and started through the ledger; its handle."""
    ledger = store.open()
    try:
        handle = ledger.submit("acme", name, payload("optimizeImagesJob", OPTIMIZE), at=at(5000))
        ledger.start(handle, "ips-9", at=at(5001))
    finally:
        ledger.close()
    return handle


def append_linked(store: Store, originator_id: UUID, version: int, topic: str, state: bytes) -> None:
    """Append a stored event through the ledger (the import path): linked into the chain."""
    ledger = store.open()
    try:
        ledger.append_stored([Stored(0, originator_id, version, topic, state)])
    finally:
        ledger.close()


def handles_in_logs(store: Store) -> set[str]:
    return {row["jobHandle"] for row in json.loads(ok(store, "logs", "--format", "json"))}


def check_views_agree_with_a_rebuild(store: Store, positions: list[int]) -> None:
    """verify passes, and a rebuild quarantines the same positions and gives the same rows."""
    assert "all views match" in ok(store, "projections", "verify")
    before = view_rows(store)
    ok(store, "projections", "rebuild")
    assert quarantined(store) == positions
    assert view_rows(store) == before
    assert "all views match" in ok(store, "projections", "verify")


def test_undecodable_rows_on_a_fresh_ledger(store: Store) -> None:
    store.open().close()  # the empty ledger, its tables made
    tables = Tables(store)
    tables.insert(uuid4(), 1, SUBMITTED, NOT_MSGPACK)
    tables.insert(uuid4(), 1, UNKNOWN, msgspec.msgpack.encode({"a": 1}))
    good = submit_good(store, "after")

    assert handles_in_logs(store) == {good}
    assert quarantined(store) == [1, 2]
    status = ok(store, "projections", "status")
    assert "2 events quarantined: positions 1 (MessagePack data is malformed" in status
    assert "2 (unknown event type 'jobledger.domain.events:Nonesuch'" in status
    status_rows = json.loads(ok(store, "projections", "status", "--format", "json"))
    assert {row["quarantined"] for row in status_rows} == {2}
    check_views_agree_with_a_rebuild(store, [1, 2])
    with closing(sqlite3.connect(views_file(store))) as conn, conn:  # a quarantine entry lost
        conn.execute("DELETE FROM quarantine WHERE position = 2")
    verified = run(store, "projections", "verify")
    assert verified.exit_code == 1, explain(verified)
    assert "quarantine (2,): row missing from the live view" in verified.stdout
    ok(store, "projections", "rebuild")

    # The chain check stops at the first row appended behind the ledger's back, and says so.
    assert_one_line_error(
        run(store, "audit", "verify"),
        1,
        "position 1: this event is not linked into the chain",
        "1 event does not decode: position 1",
    )
    assert_one_line_error(run(store, "export"), 1, "position 1", "--skip-undecodable")
    exported = run(store, "export", "--skip-undecodable")
    assert exported.exit_code == 0, explain(exported)
    assert [json.loads(line)["position"] for line in exported.stdout.splitlines()] == [3, 4]
    assert exported.stderr.splitlines() == [
        "warning: 2 events left out, not decodable: positions 1 (MessagePack data is malformed: invalid"
        " opcode '\\xc1' (byte 0)), 2 (unknown event type 'jobledger.domain.events:Nonesuch' (written by"
        " a newer jobledger?))"
    ]


def test_undecodable_rows_after_good_events(store: Store) -> None:
    handles = fill(store)
    ok(store, "logs")  # the views are caught up before the bad rows arrive
    before = head(store)
    waiting = handles.runs["waiting"]  # Submitted, then Started: version 2
    orphan = uuid4()
    tables = Tables(store)
    tables.insert(job_id(waiting), 3, PROGRESS, WRONG_TYPES)
    tables.insert(uuid4(), 1, UNKNOWN, msgspec.msgpack.encode({"a": 1}))
    # A run whose Submitted does not decode, and a later event of it that does (linked).
    tables.insert(orphan, 1, SUBMITTED, NOT_MSGPACK)
    started = Started(
        originator_id=orphan, originator_version=2, timestamp=at(4990), serverName="ips-1", startDate=at(4990)
    )
    append_linked(store, orphan, 2, event_topic(Started), msgspec.msgpack.encode(started))
    good = submit_good(store, "after")
    bad = [before + 1, before + 2, before + 3]

    logs = handles_in_logs(store)
    assert good in logs and waiting in logs and set(handles.all_runs()) <= logs
    assert quarantined(store) == bad
    status = ok(store, "projections", "status")
    assert (
        f"3 events quarantined: positions {bad[0]} (Expected `int`, got `float` - at `$.progress`)" in status
    )
    check_views_agree_with_a_rebuild(store, bad)

    for command in ("history", "show"):
        assert_one_line_error(
            run(store, command, waiting), 1, f"a stored event at position {bad[0]}", "Expected `int`"
        )
    assert ok(store, "history", handles.runs["upload"])  # the other runs read as before
    events = run(store, "events")
    assert events.exit_code == 0, explain(events)
    assert [json.loads(line)["position"] for line in events.stdout.splitlines()][-3:] == [
        bad[-1] + 1,
        bad[-1] + 2,
        bad[-1] + 3,
    ]
    assert events.stderr.startswith(f"warning: 3 events passed over, not decodable: positions {bad[0]} ")


def test_audit_verify_tells_a_linked_undecodable_event_from_an_injected_one(store: Store) -> None:
    fill(store)
    linked = head(store) + 1
    append_linked(store, uuid4(), 1, SUBMITTED, NOT_MSGPACK)
    line = assert_one_line_error(
        run(store, "audit", "verify"), 1, f"1 event does not decode: position {linked} (MessagePack"
    )
    assert line.startswith(f"Error: the chain is intact ({linked} events) but")
    Tables(store).insert(uuid4(), 1, SUBMITTED, NOT_MSGPACK)
    assert_one_line_error(
        run(store, "audit", "verify"),
        1,
        f"position {linked + 1}: this event is not linked into the chain (appended outside the ledger)",
        f"2 events do not decode: positions {linked} (",
    )


@pytest.mark.parametrize(
    "change", ["CAST(state AS TEXT)", "'not bytes at all'"], ids=["cast-to-text", "text-value"]
)
def test_an_event_changed_to_text(sqlite_store: Store, change: str) -> None:
    handles = fill(sqlite_store)
    upload = job_id(handles.runs["upload"])
    with closing(sqlite3.connect(sqlite_store.db)) as conn, conn:
        (position,) = conn.execute(
            "SELECT rowid FROM stored_events WHERE originator_id = ? AND originator_version = 3",
            (upload.hex,),
        ).fetchone()
        conn.execute(f"UPDATE stored_events SET state = {change} WHERE rowid = ?", (position,))
        assert conn.execute(
            "SELECT typeof(state) FROM stored_events WHERE rowid = ?", (position,)
        ).fetchone() == ("text",)

    rebuilt = run(sqlite_store, "projections", "rebuild")
    assert rebuilt.exit_code == 0, explain(rebuilt)
    assert quarantined(sqlite_store) == [position]
    assert f"1 event quarantined: position {position} (its stored bytes were changed to text)" in ok(
        sqlite_store, "projections", "status"
    )
    assert_one_line_error(
        run(sqlite_store, "audit", "verify"),
        1,
        f"position {position} (its stored bytes were changed to text)",
    )
    assert_one_line_error(
        run(sqlite_store, "history", handles.runs["upload"]), 1, f"position {position}", "changed to text"
    )
    exported = run(sqlite_store, "export", "--skip-undecodable")
    assert exported.exit_code == 0, explain(exported)
    assert f"position {position} (its stored bytes were changed to text)" in exported.stderr
