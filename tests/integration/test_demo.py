"""`jobledger demo` and the generator behind it: reproducible, complete, consistent with the ledger,
with schedules that the scheduler fires over the day, and refusing to fill a ledger that already
holds events."""

from __future__ import annotations

import json
import re
import shlex
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from cli_checks import assert_one_line_error
from cli_support import event_count, ok, run

from jobledger.demo import record_demo
from jobledger.demo.catalogue import DAY_MS
from jobledger.domain.aggregates import Aggregate
from jobledger.domain.aggregates import fold as fold_any
from jobledger.domain.commands import Command, Delete, Execute, Fire, JobCommand, Pause, Resume, Submit
from jobledger.domain.cron import next_fire_time
from jobledger.domain.events import DetailLogged, Submitted
from jobledger.domain.job import Job
from jobledger.domain.payloads import PAYLOAD_KINDS
from jobledger.domain.schedule import Schedule
from jobledger.domain.schedule_events import Fired, Paused, Resumed, Scheduled
from jobledger.service.ledger import JobLedger
from jobledger.store.codec import event_topic
from jobledger.store.reader import Stored

START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # a Friday
END = "2026-11-28T09:00:00Z"  # the CLI's --end for the same day
JOBS = 150
LIVE = {"New", "Running", "Stopping"}


def _normalised(output: str, db: str) -> str:
    """Demo output without what depends on the wall clock (the day's times) or the file name."""
    output = output.replace(db, "DB")
    return re.sub(r"\d{4}-\d\d-\d\d[ -]\d\d:\d\d(:\d\d)?", "TIME", output)


def _next_commands(output: str) -> list[list[str]]:
    """The suggested commands; a line may chain two with &&."""
    tail = output.split("Next, try:\n", 1)[1]
    lines = [line for line in tail.splitlines() if line.strip().startswith("jobledger ")]
    return [shlex.split(part) for line in lines for part in line.split(" && ")]


class Recorded(msgspec.Struct):
    """What recording the demo through the Python API gave."""

    ledger: JobLedger
    jobs: dict[str, Job]  # the last state `record` returned, by run handle
    schedules: dict[str, Schedule]  # the same, by schedule handle
    submits: int  # Submits of runs (not of schedules)
    batches: list[list[Command]]
    states: list[Sequence[Aggregate]]  # what each `record` call returned


def _record(
    db: str, jobs: int = JOBS, companies: int = 3, seed: int = 7, *, batch_jobs: int = 25
) -> Recorded:
    """Record the whole demo day, schedules included, through the Python API.

    Small batches by default, so that many runs have commands in a later batch than their Submit."""
    ledger = JobLedger(db)
    result = Recorded(ledger, {}, {}, 0, [], [])
    for batch, states in record_demo(ledger.record, jobs, companies, seed, START, batch_jobs=batch_jobs):
        result.batches.append(batch)
        result.states.append(states)
        result.submits += sum(isinstance(c, Submit) and not c.schedules for c in batch)
        for state in states:
            if isinstance(state, Schedule):
                result.schedules[state.jobHandle] = state
            else:
                result.jobs[state.jobHandle] = state
    return result


def _events_by_aggregate(ledger: JobLedger) -> dict[str, list[bytes]]:
    """Every stored event, encoded, grouped by its aggregate in its own order."""
    events: dict[str, list[bytes]] = {}
    for stored in ledger.reader.stored():
        events.setdefault(stored.originator_id.hex, []).append(stored.state)
    return events


def test_the_day_is_pure_and_the_same_whatever_its_batch_size(tmp_path: Path) -> None:
    small = _record(str(tmp_path / "small.db"))
    again = _record(str(tmp_path / "again.db"))
    large = _record(str(tmp_path / "large.db"), batch_jobs=4000)
    other = _record(str(tmp_path / "other.db"), seed=8)
    try:
        encoded = [msgspec.json.encode(batch) for batch in small.batches]
        assert encoded == [msgspec.json.encode(batch) for batch in again.batches]
        assert encoded != [msgspec.json.encode(batch) for batch in other.batches]

        # Batching changes how the day is cut, not what is commanded or recorded.
        assert len(small.batches) > len(large.batches) >= 1
        commands = sorted(msgspec.json.encode(c) for batch in small.batches for c in batch)
        assert commands == sorted(msgspec.json.encode(c) for batch in large.batches for c in batch)
        assert _events_by_aggregate(small.ledger) == _events_by_aggregate(large.ledger)

        for batch in small.batches:
            times = [command.at for command in batch]
            assert all(at is not None for at in times), "every command carries its time"
            assert times == sorted(times, key=lambda at: at or START), "a batch is in time order"
        every = [command.at for batch in small.batches for command in batch if command.at is not None]
        assert min(every) >= START
        assert max(every) <= START + timedelta(milliseconds=DAY_MS)
        assert small.submits == JOBS
    finally:
        for recorded in (small, again, large, other):
            recorded.ledger.close()


def test_the_demo_covers_every_kind_and_ending_and_agrees_with_the_ledger(db: str) -> None:
    recorded = _record(db)
    ledger, last, submits = recorded.ledger, recorded.jobs, recorded.submits
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
        unscheduled = [job for job in final if job.scheduleHandle is None]
        share = sum(job.scheduleHandle is None for job in live) / len(unscheduled)
        assert 0.04 <= share <= 0.2, "about a tenth of the submitted runs are still live"
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
    out_first = ok(first, "demo", "--jobs", str(JOBS), "--companies", "3", "--end", END)
    out_second = ok(second, "demo", "--jobs", str(JOBS), "--companies", "3", "--end", END)
    assert out_first.replace(first, "DB") == out_second.replace(second, "DB")
    assert event_count(first) == event_count(second) > JOBS * 8
    # With the same seed and end, the same ledger, event for event.
    assert ok(first, "export") == ok(second, "export")

    assert f"{JOBS} jobs submitted by 3 companies" in out_first
    assert "The simulated day runs from 2026-11-27 09:00 to 2026-11-28 09:00 UTC (seed 7)." in out_first
    assert "Jobs by state and outcome:" in out_first and "Per company" in out_first
    assert "Schedules by trigger state" in out_first
    totals = re.search(r"^total\s+(\d+)\s+(\d+)$", out_first, re.M)
    assert totals is not None
    ledger = JobLedger(first, create=False)
    try:
        runs = sum(1 for _ in _stored_of(ledger, Submitted))
    finally:
        ledger.close()
    assert int(totals.group(1)) == runs, "every run, follow-ons and fired runs included, is in the summary"

    other = str(tmp_path / "three.db")
    out_other = ok(other, "demo", "--jobs", str(JOBS), "--companies", "3", "--seed", "8", "--end", END)
    assert out_other.replace(other, "DB") != out_first.replace(first, "DB")
    # Without --end the day ends now (and which fire times fall in it depends on the clock).
    now = str(tmp_path / "now.db")
    out_now = ok(now, "demo", "--jobs", str(JOBS), "--companies", "3")
    assert f"{JOBS} jobs submitted by 3 companies" in out_now and "Schedules by trigger state" in out_now


def _stored_of(ledger: JobLedger, event_type: type) -> Iterator[Stored]:
    """The stored events of one type, in order."""
    topic = event_topic(event_type)
    return (stored for stored in ledger.reader.stored() if stored.topic == topic)


def test_the_suggested_commands_run(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.db")
    output = ok(db, "demo", "--jobs", "80")
    commands = _next_commands(output)
    assert 6 <= len(commands) <= 8
    names = {args[3] for args in commands}
    assert {"active", "logs", "show", "history", "details", "scheduled", "scheduler"} <= names
    assert commands[-2:] == [
        ["jobledger", "--db", db, "scheduled"],
        ["jobledger", "--db", db, "scheduler", "tick"],
    ]
    for args in commands:
        assert args[:3] == ["jobledger", "--db", db]
        printed = ok(db, *args[3:])
        # A tick prints the runs it fires: none, unless a fire time passed since the demo's last tick.
        assert printed.strip() or args[3] == "scheduler", f"{shlex.join(args)} printed nothing"


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


def _schedule_handles(ledger: JobLedger) -> list[str]:
    """Every schedule the ledger holds, deleted ones included, read from their first events."""
    handles = []
    for stored in _stored_of(ledger, Scheduled):
        head = ledger.reader.first_event(stored.originator_id)
        assert isinstance(head, Scheduled)
        handles.append(head.jobHandle)
    return handles


def test_every_command_names_a_handle_the_ledger_returned_before_and_schedules_join_the_day(
    tmp_path: Path,
) -> None:
    """The demo restates no handle rule: it drives only runs and schedules that an earlier `record`
    call named (a Submit's handle, a schedule's lastRunHandle, an upload's followOnHandle)."""
    recorded = _record(str(tmp_path / "one.db"))
    try:
        named: set[str] = set()
        for batch, states in zip(recorded.batches, recorded.states, strict=True):
            for command in batch:
                if isinstance(command, JobCommand):
                    assert command.handle in named, f"{type(command).__name__} on {command.handle}"
            for state in states:
                named.add(state.jobHandle)
                if isinstance(state, Schedule) and state.lastRunHandle:
                    named.add(state.lastRunHandle)
                if isinstance(state, Job) and state.followOnHandle:
                    named.add(state.followOnHandle)

        commands = [command for batch in recorded.batches for command in batch]
        assert {type(command) for command in commands} >= {Submit, Pause, Resume, Delete, Execute, Fire}
        fired = {handle for handle, job in recorded.jobs.items() if job.scheduleHandle}
        assert fired, "schedules fired runs"
        assert any(isinstance(c, JobCommand) and c.handle in fired for c in commands), "fired runs are driven"
        assert any(isinstance(c, Submit) and c.schedules for c in commands)
    finally:
        recorded.ledger.close()


def _fire_times(schedule: Schedule, until: datetime) -> tuple[list[datetime], datetime | None]:
    """The schedule's fire times from its creation up to `until`, and the first after it."""
    assert schedule.execSchedule is not None
    times = []
    moment = next_fire_time(schedule.execSchedule, schedule.timeZone, schedule.submitDate)
    while moment is not None and moment <= until:
        times.append(moment)
        moment = next_fire_time(schedule.execSchedule, schedule.timeZone, moment)
    return times, moment


def test_the_demo_schedules_fire_once_per_due_fire_time(db: str) -> None:
    recorded = _record(db)
    ledger = recorded.ledger
    try:
        handles = _schedule_handles(ledger)
        assert sorted(handles) == sorted(recorded.schedules)
        schedules = {handle: ledger.get(handle) for handle in handles}
        assert schedules == recorded.schedules, "what record returned is what the ledger holds"
        final = [s for s in schedules.values() if isinstance(s, Schedule)]
        assert 15 <= len(final) <= 60

        recurring = [s for s in final if s.execSchedule is not None]
        one_offs = [s for s in final if s.execTime is not None]
        assert recurring and one_offs and len(recurring) + len(one_offs) == len(final)
        rules = {s.execSchedule for s in recurring}
        assert {"0 0 */4 * * ?", "0 30 2 * * ?", "0 15 10 ? * MON-FRI", "0 * * * *"} <= rules
        assert len({s.timeZone for s in recurring}) >= 3
        live = [s for s in final if not s.deleted]
        paused = [s for s in live if s.triggerState == "Paused"]
        assert any(s.execSchedule for s in paused) and any(s.execTime for s in paused)
        end = START + timedelta(milliseconds=DAY_MS)
        assert any(s.triggerState == "Complete" and s.execTime and s.runCount == 1 for s in one_offs)
        pending = [s for s in one_offs if s.triggerState == "Normal" and s.nextFireTime]
        assert any(s.nextFireTime and s.nextFireTime > end for s in pending), "a one-off due after the day"
        assert sum(s.deleted for s in final) == 1

        histories = {s.jobHandle: ledger.history(s.jobHandle) for s in final}
        fired_events = [e for history in histories.values() for e in history if isinstance(e, Fired)]
        ticks = sorted({e.timestamp for e in fired_events if not e.manual})
        assert len(ticks) == 23, "the scheduler ticked every hour: 10:00 to 08:00 on a day from 09:00"
        assert all(tick.minute == 0 and tick.second < 10 for tick in ticks)
        assert sum(e.manual for e in fired_events) == 1, "one schedule was executed by hand"
        assert 60 <= len(fired_events) <= 400

        for schedule in final:
            history = histories[schedule.jobHandle]
            fires = [e for e in history if isinstance(e, Fired)]
            assert len(fires) == schedule.runCount
            triggers = [e.fireTime for e in fires if not e.manual]
            assert len(triggers) == len(set(triggers)), f"{schedule.jobHandle} fired one time twice"
            for fired in fires:
                run = ledger.history(fired.runHandle)
                submitted = run[0]
                assert isinstance(submitted, Submitted)
                assert submitted.scheduleHandle == schedule.jobHandle, "the run names its schedule"
                assert submitted.triggerTime == fired.fireTime and submitted.timestamp == fired.timestamp
                assert run[-1].timestamp <= end
            undisturbed = not schedule.deleted and not any(isinstance(e, (Paused, Resumed)) for e in history)
            if schedule.execSchedule and undisturbed:
                # Ticked every hour, a schedule fires each of its times once, at the next tick.
                expected, following = _fire_times(schedule, ticks[-1])
                assert triggers == expected, schedule.jobHandle
                assert schedule.nextFireTime == following

        # Paused for hours and resumed: the times missed meanwhile fire once, after the resume.
        (resumed,) = [h for h, history in histories.items() if any(isinstance(e, Resumed) for e in history)]
        history = histories[resumed]
        paused_at = next(e.timestamp for e in history if isinstance(e, Paused))
        resumed_at = next(e.timestamp for e in history if isinstance(e, Resumed))
        missed = [e for e in history if isinstance(e, Fired) and paused_at < e.fireTime < resumed_at]
        assert len(missed) == 1 and missed[0].timestamp > resumed_at
        assert not any(isinstance(e, Fired) and paused_at < e.timestamp < resumed_at for e in history)

        # The fired runs are driven like the others: started, with progress and detail rows, ended.
        runs = [job for job in recorded.jobs.values() if job.scheduleHandle]
        assert len(runs) >= 0.9 * len(fired_events)
        done = [job for job in runs if job.state == "Done"]
        assert any(job.outcome == "success" and job.serverName and job.taskProgressArray for job in done)
        assert {"success", "warnings", "errors"} & {job.outcome for job in done} != {"success"}
        assert any(isinstance(event, DetailLogged) for event in ledger.history(done[0].jobHandle))
    finally:
        ledger.close()


def test_the_demo_summarises_its_schedules_and_scheduled_lists_them(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.db")
    output = ok(db, "demo", "--jobs", "60", "--companies", "2", "--end", END)
    assert re.search(r"the \d+ runs their \d+ schedules fired\.$", output.splitlines()[0])
    part = output.split("Schedules by trigger state", 1)[1].split("Next, try:")[0]
    rows = {
        m[1]: [int(n) for n in m.groups()[1:]]
        for m in re.finditer(
            r"^(Normal|Paused|Complete|deleted|total)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$", part, re.M
        )
    }
    assert list(rows) == ["Normal", "Paused", "Complete", "deleted", "total"]
    for state in ("Normal", "Paused", "Complete", "deleted"):
        assert rows[state][2] > 0, f"no {state} schedule"
    assert rows["Normal"][0] and rows["Normal"][1] and rows["Paused"][0] and rows["Paused"][1]
    assert [sum(row[i] for state, row in rows.items() if state != "total") for i in range(4)] == rows["total"]
    fired = re.search(
        r"^Runs fired by schedules: (\d+), by 23 hourly scheduler ticks and 1 manual execute;", part, re.M
    )
    assert fired is not None and int(fired.group(1)) == rows["total"][3]

    records = json.loads(ok(db, "scheduled", "--format", "json"))
    assert len(records) == rows["Normal"][2] + rows["Paused"][2]
    assert {r["triggerState"] for r in records} == {"Normal", "Paused"}
    assert any(r["execSchedule"] is None for r in records) and any(r["execSchedule"] for r in records)
    ledger = JobLedger(db, create=False)
    try:
        schedules = [ledger.get(handle) for handle in _schedule_handles(ledger)]
    finally:
        ledger.close()
    listed = {
        s.jobHandle: s.triggerState
        for s in schedules
        if isinstance(s, Schedule) and not s.deleted and s.triggerState != "Complete"
    }
    assert {r["jobHandle"]: r["triggerState"] for r in records} == listed
