"""Schedule events stored under their old class names (Deleted, Completed) read as the renamed classes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from old_events import stored_events

from jobledger.cli.main import cli
from jobledger.domain.schedule import Schedule
from jobledger.domain.schedule_events import Fired, ScheduleCompleted, Scheduled, ScheduleDeleted
from jobledger.service.ledger import JobLedger

FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "schedule_events_v1.json").read_text())
ONCE, NIGHTLY, RUN = FIXTURE["handles"]


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


def test_the_fixture_holds_the_old_topics() -> None:
    topics = [row["topic"] for row in FIXTURE["events"]]
    assert "jobledger.domain.schedule_events:Deleted" in topics
    assert "jobledger.domain.schedule_events:Completed" in topics


def test_old_schedule_events_read_as_the_renamed_classes(old_ledger: str) -> None:
    ledger = JobLedger(old_ledger)
    try:
        assert [type(e) for e in ledger.history(ONCE)] == [Scheduled, Fired, ScheduleCompleted]
        assert [type(e) for e in ledger.history(NIGHTLY)] == [Scheduled, ScheduleDeleted]
        once, nightly = ledger.get(ONCE), ledger.get(NIGHTLY)
        assert isinstance(once, Schedule) and isinstance(nightly, Schedule)
        assert (once.triggerState, once.runCount, once.lastRunHandle) == ("Complete", 1, RUN)
        assert nightly.deleted and nightly.nextFireTime is None
    finally:
        ledger.close()


def test_the_cli_names_them_by_their_new_names_and_the_chain_still_verifies(old_ledger: str) -> None:
    names = [
        json.loads(line)["event"] for line in run(old_ledger, "events", "--format", "ndjson").splitlines()
    ]

    assert names == ["Scheduled", "Fired", "ScheduleCompleted", "Submitted", "Scheduled", "ScheduleDeleted"]
    assert run(old_ledger, "audit", "verify").startswith("chain intact")
    assert run(old_ledger, "projections", "verify").startswith("all views match")


def test_new_schedule_events_are_stored_under_the_new_topics(old_ledger: str) -> None:
    ledger = JobLedger(old_ledger)
    try:
        ledger.delete(ONCE)
        last = list(ledger.reader.stored())[-1]
        assert last.topic == "jobledger.domain.schedule_events:ScheduleDeleted"
        assert isinstance(ledger.reader.decode(last), ScheduleDeleted)
    finally:
        ledger.close()
