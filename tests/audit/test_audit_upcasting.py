"""Old encodings are upcast on read: version-1 ProgressUpdated events (no serverName), stored as
they were, read through history, show (now, --as-of, --version), events, the views, the chain and
export/import. Fixtures: tests/audit/fixtures/progress_v1.json (hand-encoded here) and the shared
tests/fixtures/events_v1.json (read only)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from audit_support import Store, StoreFactory, Tables, digest_of, ok, recomputed_links, run
from cli_checks import assert_one_line_error
from old_events import stored_events

from jobledger.domain.events import ProgressUpdated

HERE = Path(__file__).parent
PROGRESS_V1 = json.loads((HERE / "fixtures" / "progress_v1.json").read_text())
SHARED_V1 = json.loads((HERE.parent / "fixtures" / "events_v1.json").read_text())
TRANSCODE, OPTIMIZE = PROGRESS_V1["handles"]["transcode"], PROGRESS_V1["handles"]["optimize"]
V1_TOPIC = "jobledger.domain.events:ProgressUpdated"


def load(store: Store, fixture: dict[str, Any]) -> None:
    """Store the fixture's events byte for byte, as an old jobledger left them."""
    ledger = store.open()
    try:
        ledger.append_stored(stored_events(fixture))
    finally:
        ledger.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def old(request: pytest.FixtureRequest, new_store: StoreFactory) -> Store:
    """A store holding the hand-encoded old history (read only by the tests using it)."""
    store = new_store(request.param)
    load(store, PROGRESS_V1)
    return store


def ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_the_fixture_holds_version_1_progress_encodings() -> None:
    progress = [row for row in PROGRESS_V1["events"] if row["topic"].startswith(V1_TOPIC)]

    assert ProgressUpdated.class_version == 2
    assert len(progress) == 3
    for row in progress:
        assert row["topic"] == V1_TOPIC
        decoded = msgspec.msgpack.decode(bytes.fromhex(row["state"]))
        assert set(decoded) == {
            "originator_id",
            "originator_version",
            "timestamp",
            "progress",
            "progressMessage",
            "taskProgressArray",
        }


def test_history_upcasts_old_progress_with_no_server_named(old: Store) -> None:
    progress = [
        r
        for r in ndjson(ok(old, "history", TRANSCODE, "--format", "ndjson"))
        if r["event"] == "ProgressUpdated"
    ]

    assert [(p["version"], p["fields"]["progress"], p["fields"]["progressMessage"]) for p in progress] == [
        (3, 20, "transcoding"),
        (5, 70, "almost there"),
    ]
    assert all(p["fields"]["serverName"] is None for p in progress)
    task = progress[0]["fields"]["taskProgressArray"][0]
    assert (task["taskType"], task["numPending"], task["progress"]) == ("VideoTranscode", 2, 0.25)
    assert [item["itemName"] for item in task["taskItemProgressArray"]] == ["clip-1.mp4", "clip-2.mp4"]
    assert task["taskItemProgressArray"][0]["lastProgressUpdate"] == "2025-05-01T10:01:50Z"


def test_show_now_as_of_and_by_version_read_old_progress(old: Store) -> None:
    now = json.loads(ok(old, "show", TRANSCODE, "--format", "json"))
    assert (now["state"], now["outcome"], now["progress"], now["serverName"]) == (
        "Done",
        "success",
        70,
        "ips-4",
    )

    then = json.loads(ok(old, "show", TRANSCODE, "--as-of", "2025-05-01T10:02:30Z", "--format", "json"))
    assert (then["state"], then["progress"], then["progressMessage"]) == ("Running", 20, "transcoding")
    assert then["taskProgressArray"][0]["taskItemProgressArray"][1]["progressMessage"] == "encoding"
    assert json.loads(ok(old, "show", TRANSCODE, "--version", "3", "--format", "json")) == then

    running = json.loads(ok(old, "show", OPTIMIZE, "--format", "json"))
    assert (running["state"], running["progress"], running["serverName"]) == ("Running", 45, "ips-5")


def test_events_lists_old_progress_upcast(old: Store) -> None:
    records = ndjson(ok(old, "events", "--event", "ProgressUpdated"))

    assert [(r["handle"], r["fields"]["progress"], r["fields"]["serverName"]) for r in records] == [
        (TRANSCODE, 20, None),
        (OPTIMIZE, 45, None),
        (TRANSCODE, 70, None),
    ]


def test_views_folded_from_old_progress_answer_now_and_as_of(old: Store) -> None:
    active = json.loads(ok(old, "active", "--format", "json"))
    assert [(r["jobHandle"], r["progress"], r["serverName"]) for r in active] == [(OPTIMIZE, 45, "ips-5")]
    logs = {r["jobHandle"]: r for r in json.loads(ok(old, "logs", "--format", "json"))}
    assert (logs[TRANSCODE]["outcome"], logs[TRANSCODE]["state"]) == ("success", "Done")
    details = json.loads(ok(old, "details", TRANSCODE, "--format", "json"))
    assert [d["assetName"] for d in details["detailArray"]] == ["clip-1.mp4"]

    earlier = json.loads(ok(old, "active", "--as-of", "2025-05-01T10:02:30Z", "--format", "json"))
    assert sorted((r["jobHandle"], r["progress"], r["serverName"]) for r in earlier) == [
        (TRANSCODE, 20, "ips-4"),
        (OPTIMIZE, 45, "ips-5"),
    ]
    assert ok(old, "projections", "verify").startswith("all views match")


def test_the_chain_covers_the_old_bytes_as_stored(old: Store) -> None:
    rows = Tables(old).rows()

    assert [row.topic for row in rows].count(V1_TOPIC) == 3
    assert digest_of(old) == f"{len(rows)}:{recomputed_links(rows)[-1].hex()}"
    assert ok(old, "audit", "verify").startswith(f"chain intact: {len(rows)} events")


@pytest.mark.parametrize("target_kind", ["sqlite", "postgres"])
def test_export_and_import_keep_the_old_encoding_and_read_it_alike(
    old: Store, new_store: StoreFactory, tmp_path: Path, target_kind: str
) -> None:
    exported = tmp_path / "old.ndjson"
    assert run(old, "export", "-o", str(exported)).exit_code == 0
    envelopes = [json.loads(line) for line in exported.read_bytes().splitlines()]
    progress = [e for e in envelopes if e["event"] == "ProgressUpdated"]
    assert {e["topic"] for e in progress} == {V1_TOPIC}
    assert all("serverName" not in msgspec.msgpack.decode(base64.b64decode(e["state"])) for e in progress)
    assert all(e["fields"]["serverName"] is None for e in progress)

    target = new_store(target_kind)
    assert ok(target, "import", str(exported)).startswith(f"imported {len(envelopes)} events")

    assert Tables(target).rows() == Tables(old).rows()
    assert digest_of(target) == digest_of(old)
    for args in (
        ("history", TRANSCODE, "--format", "ndjson"),
        ("show", TRANSCODE, "--as-of", "2025-05-01T10:02:30Z", "--format", "json"),
        ("logs", "--format", "json"),
        ("active", "--format", "json"),
        ("details", TRANSCODE, "--format", "json"),
        ("events",),
    ):
        assert ok(target, *args) == ok(old, *args), args


def test_the_shared_old_fixture_survives_export_and_import(new_store: StoreFactory, tmp_path: Path) -> None:
    source, target = new_store("sqlite"), new_store("sqlite")
    load(source, SHARED_V1)
    upload, publish = SHARED_V1["handles"]
    exported = tmp_path / "shared.ndjson"
    assert run(source, "export", "-o", str(exported)).exit_code == 0

    ok(target, "import", str(exported))

    assert digest_of(target) == digest_of(source)
    for args in (
        ("history", upload, "--format", "ndjson"),
        ("logs", "--format", "json"),
        ("active", "--format", "json"),
    ):
        assert ok(target, *args) == ok(source, *args), args
    progress = [
        r
        for r in ndjson(ok(target, "history", upload, "--format", "ndjson"))
        if r["event"] == "ProgressUpdated"
    ]
    assert [(p["fields"]["progress"], p["fields"]["serverName"]) for p in progress] == [
        (25, None),
        (50, None),
    ]
    assert json.loads(ok(target, "show", publish, "--format", "json"))["progress"] == 30


def test_new_progress_beside_old_is_stored_as_version_2_and_both_read_back(new_store: StoreFactory) -> None:
    store = new_store("sqlite")
    load(store, PROGRESS_V1)

    ok(store, "progress", OPTIMIZE, "--percent", "60", "--server", "ips-9", "--at", "2025-05-01T10:10:00Z")

    assert Tables(store).rows()[-1].topic == f"{V1_TOPIC}#2"
    records = ndjson(ok(store, "events", "--job", OPTIMIZE, "--event", "ProgressUpdated"))
    assert [(r["fields"]["progress"], r["fields"]["serverName"]) for r in records] == [
        (45, None),
        (60, "ips-9"),
    ]
    assert ok(store, "audit", "verify").startswith("chain intact")


def test_an_encoding_from_a_newer_version_is_reported_in_one_line(new_store: StoreFactory) -> None:
    store = new_store("sqlite")
    newer = [
        {**row, "topic": f"{V1_TOPIC}#3"} if row["topic"] == V1_TOPIC else row
        for row in PROGRESS_V1["events"]
    ]
    load(store, {"events": newer})

    assert_one_line_error(run(store, "history", TRANSCODE), 1, "ProgressUpdated#3")
    assert_one_line_error(run(store, "show", TRANSCODE), 1, "ProgressUpdated#3")
    # The event log passes over what it cannot read, and names it.
    events = run(store, "events")
    assert events.exit_code == 0 and "ProgressUpdated#3" in events.stderr, events.stderr
