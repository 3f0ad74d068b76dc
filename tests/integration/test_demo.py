"""`jobledger demo` and the generator behind it: reproducible, complete, consistent with the ledger,
and refusing to fill a ledger that already holds events."""

from __future__ import annotations

import re
import shlex
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from cli_support import assert_one_line_error, event_count, ok, run
from jobledger.domain.batch import fold_any
from jobledger.domain.commands import Submit
from jobledger.domain.demo import DAY_MS, demo_commands
from jobledger.domain.events import Submitted
from jobledger.domain.ledger import JobLedger
from jobledger.domain.model import Job
from jobledger.domain.payloads import PAYLOAD_KINDS
from jobledger.domain.persistence import event_topic

START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
JOBS = 150
LIVE = {"New", "Running", "Stopping"}


def _normalised(output: str, db: str) -> str:
    """Demo output without what depends on the wall clock (the day's times) or the file name."""
    output = output.replace(db, "DB")
    return re.sub(r"\d{4}-\d\d-\d\d[ -]\d\d:\d\d(:\d\d)?", "TIME", output)


def _next_commands(output: str) -> list[list[str]]:
    tail = output.split("Next, try:\n", 1)[1]
    return [shlex.split(line) for line in tail.splitlines() if line.strip().startswith("jobledger ")]


def _record(db: str, jobs: int = JOBS, companies: int = 3) -> tuple[JobLedger, dict[str, Job], int]:
    """Record the demo's batches through the Python API: (ledger, last state per handle, submits)."""
    ledger = JobLedger(db)
    last: dict[str, Job] = {}
    submits = 0
    # Small batches, so that many runs have commands in a later batch than their Submit.
    for batch in demo_commands(jobs, companies, 7, START, batch_jobs=25):
        submits += sum(isinstance(command, Submit) for command in batch)
        for state in ledger.record(batch):
            assert isinstance(state, Job)
            last[state.jobHandle] = state
    return ledger, last, submits


def test_the_generator_is_pure_and_its_times_are_ordered() -> None:
    first = [msgspec.json.encode(batch) for batch in demo_commands(JOBS, 3, 7, START)]
    second = [msgspec.json.encode(batch) for batch in demo_commands(JOBS, 3, 7, START)]
    assert first == second
    other = [msgspec.json.encode(batch) for batch in demo_commands(JOBS, 3, 8, START)]
    assert other != first

    commands = [command for batch in demo_commands(JOBS, 3, 7, START) for command in batch]
    batches = list(demo_commands(JOBS, 3, 7, START, batch_jobs=25))
    assert len(batches) > 3
    assert [command for batch in batches for command in batch] == commands, "batching changes nothing else"
    times = [command.at for command in commands if command.at is not None]
    assert len(times) == len(commands), "every command carries its time"
    assert times == sorted(times), "commands come out in time order across all jobs"
    assert times[0] >= START
    assert times[-1] <= START + timedelta(milliseconds=DAY_MS)
    assert sum(isinstance(command, Submit) for command in commands) == JOBS


def test_the_demo_covers_every_kind_and_ending_and_agrees_with_the_ledger(db: str) -> None:
    ledger, last, submits = _record(db)
    try:
        assert submits == JOBS
        jobs = {handle: ledger.get(handle) for handle in last}
        # Follow-on publishes that nothing touched after their upload completed.
        for job in list(last.values()):
            if job.followOnHandle and job.followOnHandle not in jobs:
                jobs[job.followOnHandle] = ledger.get(job.followOnHandle)
        assert all(isinstance(job, Job) for job in jobs.values())
        final = [job for job in jobs.values() if isinstance(job, Job)]

        assert {job.payloadKind for job in final} == set(PAYLOAD_KINDS)
        outcomes = Counter(job.outcome for job in final if job.state == "Done")
        assert {"success", "warnings", "errors", "fatal", "stopped"} <= set(outcomes)
        live = [job for job in final if job.state in LIVE and not job.deleted]
        assert {job.state for job in live} == LIVE
        assert 0.04 <= len(live) / len(final) <= 0.2, "about a tenth are still live"
        assert any(job.deleted for job in final)
        assert len({job.companyHandle for job in final}) == 3
        assert len({job.serverName for job in final if job.serverName}) >= 3
        assert len({job.submitUserEmail for job in final}) >= 6
        assert len({job.locale for job in final}) >= 2
        assert any(job.taskProgressArray for job in final)
        assert any(job.followOnOf for job in final), "an upload started its follow-on publish"

        log_types: set[str] = set()
        for handle, job in jobs.items():
            history = ledger.history(handle)
            # The state the batch API returned, a fold of the history, and `get` all agree.
            assert fold_any(history) == job
            if handle in last:
                assert last[handle] == job
            stamps = [event.timestamp for event in history]
            assert stamps == sorted(stamps)
            log_types.update(getattr(event, "logType", "") for event in history)
        log_types.discard("")
        expected = {"FileBegin", "FleEnd", "DuplicateSkipped", "FileUpdated", "FileCancel", "FatalError"}
        assert expected <= log_types
        assert any(t.startswith("Begin") for t in log_types) and any(t.endswith("Warning") for t in log_types)
        assert len(log_types) >= 25
    finally:
        ledger.close()


def test_the_demo_is_reproducible_and_prints_a_summary(tmp_path: Path) -> None:
    first, second = str(tmp_path / "one.db"), str(tmp_path / "two.db")
    out_first = ok(first, "demo", "--jobs", str(JOBS), "--companies", "3")
    out_second = ok(second, "demo", "--jobs", str(JOBS), "--companies", "3")
    assert _normalised(out_first, first) == _normalised(out_second, second)
    assert event_count(first) == event_count(second) > JOBS * 8

    assert f"{JOBS} jobs submitted by 3 companies" in out_first
    assert "Jobs by state and outcome:" in out_first and "Per company" in out_first
    totals = re.search(r"^total\s+(\d+)\s+(\d+)$", out_first, re.M)
    assert totals is not None
    ledger = JobLedger(first, create=False)
    try:
        runs = sum(1 for _ in ledger.recorder.select_notifications(0, 10**7, topics=[_submitted_topic()]))
    finally:
        ledger.close()
    assert int(totals.group(1)) == runs, "every run, follow-ons included, is in the summary"

    other = str(tmp_path / "three.db")
    assert _normalised(ok(other, "demo", "--jobs", str(JOBS), "--companies", "3", "--seed", "8"), other) != (
        _normalised(out_first, first)
    )


def _submitted_topic() -> str:
    return event_topic(Submitted)


def test_the_suggested_commands_run(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.db")
    output = ok(db, "demo", "--jobs", "80")
    commands = _next_commands(output)
    assert 4 <= len(commands) <= 6
    names = {args[3] for args in commands}
    assert {"active", "logs", "show", "history", "details"} <= names
    for args in commands:
        assert args[:3] == ["jobledger", "--db", db]
        assert ok(db, *args[3:]).strip(), f"{shlex.join(args)} printed nothing"


def test_a_second_demo_on_the_same_ledger_is_refused(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.db")
    ok(db, "demo", "--jobs", "20")
    before = event_count(db)
    assert before > 0
    assert_one_line_error(run(db, "demo", "--jobs", "20"), 1, db, "new --db")
    # The demo's own --db wins over the group's, and is refused the same way.
    assert_one_line_error(run(str(tmp_path / "x.db"), "demo", "--db", db), 1, db, "new --db")
    assert event_count(db) == before
    assert not (tmp_path / "x.db").exists()


def test_the_demo_option_db_overrides_the_global_one(tmp_path: Path) -> None:
    chosen = tmp_path / "chosen.db"
    ok(str(tmp_path / "global.db"), "demo", "--jobs", "10", "--db", str(chosen))
    assert event_count(str(chosen)) > 0
    assert not (tmp_path / "global.db").exists()


@pytest.mark.parametrize("args", [["--jobs", "0"], ["--companies", "0"], ["--seed", "x"]])
def test_bad_demo_options_are_usage_errors(tmp_path: Path, args: list[str]) -> None:
    db = str(tmp_path / "demo.db")
    result = run(db, "demo", *args)
    assert result.exit_code == 2
    assert not Path(db).exists()
