"""Property: any sequence of scheduler ticks creates exactly one run per due fire time.

The policy for missed fire times (documented in the README and in `decide_fire`): a tick at T fires
a due schedule once, however many fire times passed since the last tick; that run's triggerTime is
the earliest missed fire time, and the schedule's next fire time is the first one strictly after T.
A model of that policy, fed with fire times from an independent minute-by-minute reading of the
rule (schedule_support.fire_times), predicts every run; the ledger must agree exactly.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from schedule_support import T0, next_after, optimize

from jobledger.domain.events import Submitted
from jobledger.domain.schedule import Schedule
from jobledger.domain.schedule_events import Fired
from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector
from jobledger.service.scheduler import tick

RULES = [
    "0 0 * * * ?",
    "0 */20 * * * ?",
    "0 30 9 ? * MON-FRI",
    "15 */3 * * *",
    "0 45 23 * * ?",
]
# January 2026: no zone below changes its clocks, so the independent reading needs no DST policy.
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney"]

# Gaps between operations, in minutes: repeats (0), short gaps, and gaps that skip many fire times.
gaps = st.one_of(st.just(0), st.integers(1, 90), st.sampled_from([180, 600, 1440, 3 * 1440]))
operations = st.lists(st.tuples(st.sampled_from(["tick", "tick", "tick", "toggle"]), gaps), max_size=14)


def model(
    rule: str, zone: str, created: datetime, steps: list[tuple[str, datetime]]
) -> tuple[list, datetime]:
    """Trigger times the policy predicts, and the next fire time after the last step."""
    following = next_after(rule, zone, created)
    paused = False
    triggers = []
    for kind, moment in steps:
        if kind == "toggle":
            paused = not paused
        elif not paused and moment >= following:
            triggers.append(following)
            following = next_after(rule, zone, moment)
    return triggers, following


@settings(max_examples=35, deadline=None, database=None)
@given(
    rule=st.sampled_from(RULES),
    zone=st.sampled_from(ZONES),
    start=st.integers(0, 59),
    ops=operations,
)
def test_ticks_create_one_run_per_due_fire_time_and_missed_times_collapse(
    rule: str, zone: str, start: int, ops: list[tuple[str, int]]
) -> None:
    created = T0 + timedelta(minutes=start)
    steps = []
    moment = created
    for kind, gap in ops:
        moment += timedelta(minutes=gap)
        steps.append((kind, moment))
    expected, expected_next = model(rule, zone, created, steps)

    with tempfile.TemporaryDirectory() as folder:
        ledger = JobLedger(str(Path(folder) / "ledger.db"))
        try:
            handle = ledger.submit("acme", "Prop", optimize(), exec_schedule=rule, time_zone=zone, at=created)
            projector = open_projector(ledger)
            paused = False
            for kind, moment in steps:
                if kind == "toggle":
                    (ledger.resume if paused else ledger.pause)(handle, at=moment)
                    paused = not paused
                    continue
                fired = tick(ledger, projector, moment)
                assert len(fired) <= 1, fired
                if paused:
                    assert fired == [], "a paused schedule fired"

            schedule = ledger.get(handle)
            assert isinstance(schedule, Schedule)
            firings = [e for e in ledger.history(handle) if isinstance(e, Fired)]
            assert [f.fireTime for f in firings] == expected
            assert schedule.nextFireTime == expected_next
            assert schedule.triggerState == ("Paused" if paused else "Normal")

            runs = [f.runHandle for f in firings]
            assert len(set(runs)) == len(runs)
            trigger_times = []
            for firing in firings:
                submitted = ledger.history(firing.runHandle)[0]
                assert isinstance(submitted, Submitted)
                assert submitted.scheduleHandle == handle
                assert submitted.originalName == "Prop"
                assert submitted.triggerTime == firing.fireTime
                trigger_times.append(submitted.triggerTime)
            assert len(set(trigger_times)) == len(trigger_times)
        finally:
            ledger.close()


@settings(max_examples=15, deadline=None, database=None)
@given(
    rule=st.sampled_from(RULES), zone=st.sampled_from(ZONES), ticks=st.lists(gaps, min_size=1, max_size=10)
)
def test_a_paused_schedule_creates_no_runs_however_often_it_is_ticked(
    rule: str, zone: str, ticks: list[int]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        ledger = JobLedger(str(Path(folder) / "ledger.db"))
        try:
            handle = ledger.submit("acme", "Held", optimize(), exec_schedule=rule, time_zone=zone, at=T0)
            ledger.pause(handle, at=T0)
            projector = open_projector(ledger)
            moment = T0
            for gap in ticks:
                moment += timedelta(minutes=gap)
                assert tick(ledger, projector, moment) == []
            assert not any(isinstance(e, Fired) for e in ledger.history(handle))
        finally:
            ledger.close()
