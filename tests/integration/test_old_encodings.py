"""Events stored in an older encoding are upcast on read, through the library and the whole CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from old_events import stored_events

from jobledger.cli.main import cli
from jobledger.domain.events import ProgressUpdated
from jobledger.service.ledger import JobLedger

FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "events_v1.json").read_text())
UPLOAD, PUBLISH = FIXTURE["handles"]


@pytest.fixture
def old_ledger(tmp_path: Path) -> str:
    path = str(tmp_path / "old.db")
    ledger = JobLedger(path)
    ledger.append_stored(stored_events(FIXTURE))
    ledger.close()
    return path


def run(db: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", db, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_fixture_holds_version_1_progress_events() -> None:
    topics = {row["topic"] for row in FIXTURE["events"]}
    assert "jobledger.domain.events:ProgressUpdated" in topics
    assert ProgressUpdated.class_version == 2


def test_old_progress_events_are_upcast_with_no_server_named(old_ledger: str) -> None:
    events = JobLedger(old_ledger).history(UPLOAD)
    progress = [event for event in events if isinstance(event, ProgressUpdated)]

    assert [p.progress for p in progress] == [25, 50]
    assert all(p.serverName is None for p in progress)
    assert progress[0].taskProgressArray[0].taskType == "UrlFetch"


def test_history_and_show_read_old_events_through_the_cli(old_ledger: str) -> None:
    lines = [
        json.loads(line) for line in run(old_ledger, "history", UPLOAD, "--format", "ndjson").splitlines()
    ]
    progress = [line for line in lines if line["event"] == "ProgressUpdated"]

    assert [p["fields"]["progress"] for p in progress] == [25, 50]
    assert all(p["fields"]["serverName"] is None for p in progress)
    shown = json.loads(run(old_ledger, "show", UPLOAD, "--format", "json"))
    assert (shown["state"], shown["outcome"], shown["progress"]) == ("Done", "success", 50)


def test_views_built_from_old_events_answer_queries(old_ledger: str) -> None:
    active = json.loads(run(old_ledger, "active", "--format", "json"))
    logs = json.loads(run(old_ledger, "logs", "--format", "json"))
    details = json.loads(run(old_ledger, "details", UPLOAD, "--format", "json"))

    assert [(row["jobHandle"], row["progress"]) for row in active] == [(PUBLISH, 30)]
    assert {row["jobHandle"] for row in logs} == {UPLOAD, PUBLISH}
    assert details["detailTotalRows"] == 1
    assert run(old_ledger, "projections", "verify").startswith("all views match")


def test_new_progress_events_are_stored_as_version_2_beside_old_ones(old_ledger: str) -> None:
    ledger = JobLedger(old_ledger)
    ledger.update_progress(PUBLISH, 60, server="ips-9")

    topics = [stored.topic for stored in ledger.reader.stored()]
    assert topics[-1] == "jobledger.domain.events:ProgressUpdated#2"
    last = ledger.history(PUBLISH)[-1]
    assert isinstance(last, ProgressUpdated)
    assert last.serverName == "ips-9"
    assert run(old_ledger, "audit", "verify").startswith("chain intact")
