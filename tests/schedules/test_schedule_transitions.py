"""Every transition of the Schedule aggregate: given past events, when a decision runs, then these events.

The pure decisions are tested first; then the same rules through JobLedger on a real SQLite file,
where a refused command must append nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from schedule_support import T0, optimize

from jobledger.domain.aggregates import fold
from jobledger.domain.errors import InvalidValueError, RuleError, UnknownHandleError
from jobledger.domain.job import Job
from jobledger.domain.schedule import (
    Schedule,
    ScheduleRuleError,
    decide_delete_schedule,
    decide_execute,
    decide_fire,
    decide_pause,
    decide_resume,
    decide_schedule,
    is_due,
)
from jobledger.domain.schedule_events import (
    Fired,
    Paused,
    Resumed,
    ScheduleCompleted,
    Scheduled,
    ScheduleDeleted,
    ScheduleEvent,
)
from jobledger.projections.queries import scheduled_jobs
from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector

HANDLE = "acme|Nightly|"
HOURLY = "0 0 * * * ?"


def at(hours: float) -> datetime:
    """A moment `hours` after T0 (a Monday midnight, UTC)."""
    return T0 + timedelta(hours=hours)


def created(
    *, exec_schedule: str | None = HOURLY, exec_time: datetime | None = None, when: datetime = T0
) -> list[ScheduleEvent]:
    """The events of a new schedule named Nightly, created at `when`."""
    return decide_schedule(
        previous=None,
        company="acme",
        handle=HANDLE,
        name="Nightly",
        payload=optimize(),
        job_type="ImageOptimization",
        user_email="ops@acme.test",
        locale="en-US",
        description="nightly optimisation",
        exec_time=exec_time,
        exec_schedule=exec_schedule,
        time_zone="UTC",
        at=when,
    )


def state(*events: ScheduleEvent) -> Schedule:
    folded = fold(events)
    assert folded is not None
    return folded


def then(schedule: Schedule, events: list[ScheduleEvent]) -> Schedule:
    """The schedule after more events, checking they continue its version numbers."""
    for offset, event in enumerate(events, start=1):
        assert event.originator_id == schedule.id
        assert event.originator_version == schedule.version + offset
    folded = fold(events, schedule)
    assert folded is not None
    return folded


RECURRING = state(*created())
ONE_OFF = state(*created(exec_schedule=None, exec_time=at(3)))


# --- Scheduled -------------------------------------------------------------------------------------


def test_a_recurring_submit_creates_a_normal_schedule_whose_first_fire_is_the_next_rule_time() -> None:
    (event,) = created(when=at(0.5))
    assert isinstance(event, Scheduled)
    assert (event.execSchedule, event.execTime, event.nextFireTime) == (HOURLY, None, at(1))
    schedule = state(event)
    assert (schedule.triggerState, schedule.nextFireTime, schedule.runCount) == ("Normal", at(1), 0)
    assert (schedule.jobHandle, schedule.name, schedule.originalName) == (HANDLE, "Nightly", "Nightly")


def test_a_one_off_submit_creates_a_normal_schedule_that_fires_at_its_exec_time() -> None:
    assert (ONE_OFF.triggerState, ONE_OFF.nextFireTime, ONE_OFF.execTime) == ("Normal", at(3), at(3))


def test_a_submit_with_both_exec_time_and_exec_schedule_is_refused_by_the_ips_rule() -> None:
    with pytest.raises(ScheduleRuleError, match=r"at most one of execTime and execSchedule \(an IPS rule\)"):
        created(exec_time=at(3))


def test_impossible_times_are_bad_input_not_a_broken_rule_of_a_state() -> None:
    # (an InvalidValueError: a 400 over HTTP; still a ScheduleRuleError for Python callers)
    for times in ({"exec_time": at(3)}, {"exec_schedule": None}, {"exec_schedule": "0 0 0 30 2 ?"}):
        with pytest.raises(ScheduleRuleError) as refused:
            created(**times)
        assert isinstance(refused.value, InvalidValueError), times


def test_a_schedule_needs_an_exec_time_or_an_exec_schedule() -> None:
    with pytest.raises(ScheduleRuleError, match="needs an execTime or an execSchedule"):
        created(exec_schedule=None)


def test_a_second_live_schedule_with_the_same_name_is_refused() -> None:
    with pytest.raises(ScheduleRuleError, match=r"already has a schedule named 'Nightly'.*delete it first"):
        decide_schedule(
            previous=RECURRING,
            company="acme",
            handle=HANDLE,
            name="Nightly",
            payload=optimize(),
            job_type="ImageOptimization",
            user_email="",
            locale="",
            description="",
            exec_time=None,
            exec_schedule=HOURLY,
            time_zone="UTC",
            at=at(1),
        )


def test_a_deleted_schedule_can_be_created_again_under_its_name() -> None:
    deleted = then(RECURRING, decide_delete_schedule(RECURRING, "ops", at(1)))
    events = decide_schedule(
        previous=deleted,
        company="acme",
        handle=HANDLE,
        name="Nightly",
        payload=optimize(),
        job_type="ImageOptimization",
        user_email="",
        locale="",
        description="again",
        exec_time=None,
        exec_schedule="0 30 * * * ?",
        time_zone="UTC",
        at=at(2),
    )
    again = then(deleted, events)
    assert (again.deleted, again.triggerState, again.nextFireTime) == (False, "Normal", at(2.5))
    assert (again.execSchedule, again.description) == ("0 30 * * * ?", "again")


# --- pause and resume ------------------------------------------------------------------------------


def test_pause_turns_a_normal_schedule_paused() -> None:
    events = decide_pause(RECURRING, "ops@acme.test", at(0.5))
    assert [type(e) for e in events] == [Paused]
    paused = then(RECURRING, events)
    assert paused.triggerState == "Paused"
    assert paused.nextFireTime == RECURRING.nextFireTime


def test_resume_turns_a_paused_schedule_normal_again() -> None:
    paused = then(RECURRING, decide_pause(RECURRING, "", at(0.5)))
    events = decide_resume(paused, "ops@acme.test", at(0.6))
    assert [type(e) for e in events] == [Resumed]
    assert then(paused, events).triggerState == "Normal"


def test_pause_refuses_a_schedule_that_is_already_paused() -> None:
    paused = then(RECURRING, decide_pause(RECURRING, "", at(0.5)))
    with pytest.raises(ScheduleRuleError, match="cannot pause schedule acme\\|Nightly\\|: it is Paused"):
        decide_pause(paused, "", at(0.6))


def test_resume_refuses_a_schedule_that_is_not_paused() -> None:
    with pytest.raises(ScheduleRuleError, match="it is Normal, not Paused"):
        decide_resume(RECURRING, "", at(0.5))


def test_pause_refuses_a_complete_one_off() -> None:
    complete = then(ONE_OFF, decide_fire(ONE_OFF, "acme||Nightly_x", at(3)))
    with pytest.raises(ScheduleRuleError, match="it is Complete"):
        decide_pause(complete, "", at(4))


def test_a_decision_dated_before_the_schedules_last_event_is_refused() -> None:
    with pytest.raises(RuleError, match="is before the last event"):
        decide_pause(RECURRING, "", T0 - timedelta(seconds=1))


# --- fire ------------------------------------------------------------------------------------------


def test_fire_does_nothing_before_the_next_fire_time() -> None:
    assert decide_fire(RECURRING, "acme||Nightly_x", at(1) - timedelta(seconds=1)) == []
    assert not is_due(RECURRING, at(0.99))


def test_fire_at_the_fire_time_keeps_a_recurring_schedule_normal_and_advances_its_next_fire_time() -> None:
    events = decide_fire(RECURRING, "acme||Nightly_2026-01-05-01:00:00", at(1))
    assert [type(e) for e in events] == [Fired]
    (fired,) = events
    assert isinstance(fired, Fired)
    assert (fired.fireTime, fired.nextFireTime, fired.manual) == (at(1), at(2), False)
    after = then(RECURRING, events)
    assert (after.triggerState, after.nextFireTime, after.lastFireTime) == ("Normal", at(2), at(1))
    assert (after.runCount, after.lastRunHandle) == (1, "acme||Nightly_2026-01-05-01:00:00")


def test_fire_twice_for_the_same_time_fires_once() -> None:
    after = then(RECURRING, decide_fire(RECURRING, "acme||Nightly_x", at(1)))
    assert decide_fire(after, "acme||Nightly_y", at(1)) == []


def test_missed_fire_times_fire_once_at_the_earliest_and_the_next_is_the_first_after_the_tick() -> None:
    # The documented policy: a late tick fires once, with the earliest missed time as the trigger time.
    late = at(5.5)
    (fired,) = decide_fire(RECURRING, "acme||Nightly_x", late)
    assert isinstance(fired, Fired)
    assert (fired.fireTime, fired.nextFireTime) == (at(1), at(6))


def test_fire_turns_a_one_off_complete_with_no_next_fire_time() -> None:
    events = decide_fire(ONE_OFF, "acme||Nightly_x", at(3))
    assert [type(e) for e in events] == [Fired, ScheduleCompleted]
    complete = then(ONE_OFF, events)
    assert (complete.triggerState, complete.nextFireTime, complete.runCount) == ("Complete", None, 1)
    assert decide_fire(complete, "acme||Nightly_y", at(9)) == []


def test_fire_does_nothing_while_paused() -> None:
    paused = then(RECURRING, decide_pause(RECURRING, "", at(0.5)))
    assert decide_fire(paused, "acme||Nightly_x", at(9)) == []


def test_a_fire_time_missed_while_paused_fires_once_after_resume() -> None:
    paused = then(RECURRING, decide_pause(RECURRING, "", at(0.5)))
    resumed = then(paused, decide_resume(paused, "", at(4.5)))
    (fired,) = decide_fire(resumed, "acme||Nightly_x", at(4.75))
    assert isinstance(fired, Fired)
    assert (fired.fireTime, fired.nextFireTime) == (at(1), at(5))


def test_fire_ignores_a_tick_dated_before_the_last_event() -> None:
    paused = then(RECURRING, decide_pause(RECURRING, "", at(2)))
    resumed = then(paused, decide_resume(paused, "", at(3)))
    assert decide_fire(resumed, "acme||Nightly_x", at(2.5)) == []


# --- execute ---------------------------------------------------------------------------------------


def test_execute_fires_now_and_leaves_the_trigger_unchanged() -> None:
    events = decide_execute(RECURRING, "acme||Nightly_x", at(0.25))
    (fired,) = events
    assert isinstance(fired, Fired)
    assert (fired.manual, fired.fireTime, fired.nextFireTime) == (True, at(0.25), at(1))
    after = then(RECURRING, events)
    assert (after.triggerState, after.nextFireTime, after.runCount) == ("Normal", at(1), 1)


def test_execute_works_while_paused_and_the_schedule_stays_paused() -> None:
    paused = then(RECURRING, decide_pause(RECURRING, "", at(0.25)))
    after = then(paused, decide_execute(paused, "acme||Nightly_x", at(0.5)))
    assert (after.triggerState, after.nextFireTime, after.runCount) == ("Paused", at(1), 1)


def test_execute_refuses_a_complete_one_off() -> None:
    complete = then(ONE_OFF, decide_fire(ONE_OFF, "acme||Nightly_x", at(3)))
    with pytest.raises(ScheduleRuleError, match=r"cannot execute schedule .*: it is Complete"):
        decide_execute(complete, "acme||Nightly_y", at(4))


# --- delete ----------------------------------------------------------------------------------------


def test_delete_is_terminal() -> None:
    events = decide_delete_schedule(RECURRING, "ops", at(0.5))
    assert [type(e) for e in events] == [ScheduleDeleted]
    deleted = then(RECURRING, events)
    assert (deleted.deleted, deleted.nextFireTime) == (True, None)
    assert decide_fire(deleted, "acme||Nightly_x", at(9)) == []
    for decision in (decide_pause, decide_resume, decide_delete_schedule):
        with pytest.raises(ScheduleRuleError, match="it was deleted"):
            decision(deleted, "", at(1))
    with pytest.raises(ScheduleRuleError, match="it was deleted"):
        decide_execute(deleted, "acme||Nightly_x", at(1))


def test_a_paused_or_complete_schedule_can_be_deleted() -> None:
    paused = then(RECURRING, decide_pause(RECURRING, "", at(0.5)))
    complete = then(ONE_OFF, decide_fire(ONE_OFF, "acme||Nightly_x", at(3)))
    assert then(paused, decide_delete_schedule(paused, "", at(1))).deleted
    assert then(complete, decide_delete_schedule(complete, "", at(4))).deleted


# --- through the ledger ----------------------------------------------------------------------------


def submit_hourly(ledger: JobLedger, name: str = "Nightly", when: datetime = T0) -> str:
    return ledger.submit(
        "acme", name, optimize(), exec_schedule=HOURLY, user_email="ops@acme.test", locale="en-US", at=when
    )


def test_submit_with_a_schedule_returns_the_schedule_handle_and_creates_no_run(schedules: JobLedger) -> None:
    handle = submit_hourly(schedules)
    assert handle == "acme|Nightly|"
    assert isinstance(schedules.get(handle), Schedule)
    assert [type(e) for e in schedules.history(handle)] == [Scheduled]
    assert schedules.event_count() == 1


def test_submit_with_an_exec_time_in_another_zone_fires_at_that_instant(schedules: JobLedger) -> None:
    berlin_noon = datetime.fromisoformat("2026-01-06T12:00:00+01:00")
    handle = schedules.submit("acme", "Once", optimize(), exec_time=berlin_noon, at=T0)
    schedule = schedules.get(handle)
    assert isinstance(schedule, Schedule)
    assert schedule.nextFireTime == datetime(2026, 1, 6, 11, tzinfo=UTC)


def test_submit_with_both_times_is_refused_with_the_ips_rule_and_appends_nothing(
    schedules: JobLedger,
) -> None:
    with pytest.raises(ScheduleRuleError, match=r"at most one of execTime and execSchedule \(an IPS rule\)"):
        schedules.submit("acme", "Both", optimize(), exec_time=at(1), exec_schedule=HOURLY, at=T0)
    assert schedules.event_count() == 0


def test_fire_through_the_ledger_creates_one_run_that_names_its_schedule(schedules: JobLedger) -> None:
    handle = submit_hourly(schedules)
    run = schedules.fire(handle, at=at(1))
    assert run == "acme||Nightly_2026-01-05-01:00:00"
    job = schedules.get_job(run)
    assert (job.state, job.triggerTime, job.scheduleHandle) == ("New", at(1), handle)
    assert (job.originalName, job.submitUserEmail, job.locale) == ("Nightly", "ops@acme.test", "en-US")
    assert schedules.fire(handle, at=at(1)) is None
    assert schedules.get(handle).nextFireTime == at(2)


def test_a_one_off_fires_once_through_the_ledger_and_becomes_complete(schedules: JobLedger) -> None:
    handle = schedules.submit("acme", "Once", optimize(), exec_time=at(3), at=T0)
    assert schedules.fire(handle, at=at(2)) is None
    run = schedules.fire(handle, at=at(3.5))
    assert run is not None and schedules.get_job(run).triggerTime == at(3)
    assert schedules.get(handle).triggerState == "Complete"
    assert schedules.fire(handle, at=at(9)) is None
    with pytest.raises(ScheduleRuleError, match="Complete"):
        schedules.execute(handle, at=at(9))


def test_pause_and_resume_through_the_ledger(schedules: JobLedger) -> None:
    handle = submit_hourly(schedules)
    assert schedules.pause(handle, at=at(0.5)).triggerState == "Paused"
    assert schedules.fire(handle, at=at(3)) is None
    assert schedules.resume(handle, at=at(3)).triggerState == "Normal"
    run = schedules.fire(handle, at=at(3))
    assert run is not None and schedules.get_job(run).triggerTime == at(1)
    assert schedules.get(handle).nextFireTime == at(4)


def test_execute_through_the_ledger_runs_now_even_while_paused(schedules: JobLedger) -> None:
    handle = submit_hourly(schedules)
    schedules.pause(handle, at=at(0.25))
    run = schedules.execute(handle, at=at(0.5))
    job = schedules.get_job(run)
    assert (job.triggerTime, job.scheduleHandle, job.state) == (at(0.5), handle, "New")
    schedule = schedules.get(handle)
    assert (schedule.triggerState, schedule.nextFireTime) == ("Paused", at(1))


def test_execute_and_a_tick_in_the_same_second_get_distinct_runs(schedules: JobLedger) -> None:
    handle = submit_hourly(schedules)
    executed = schedules.execute(handle, at=at(1))
    fired = schedules.fire(handle, at=at(1))
    assert fired is not None and executed != fired
    assert {schedules.get_job(r).scheduleHandle for r in (executed, fired)} == {handle}


def test_delete_through_the_ledger_is_terminal_and_keeps_its_runs(schedules: JobLedger) -> None:
    handle = submit_hourly(schedules)
    run = schedules.fire(handle, at=at(1))
    assert run is not None
    schedules.delete(handle, at=at(1.5))
    count = schedules.event_count()
    assert schedules.fire(handle, at=at(5)) is None
    for operation in (schedules.pause, schedules.resume, schedules.delete):
        with pytest.raises(ScheduleRuleError, match="deleted"):
            operation(handle, at=at(6))
    with pytest.raises(ScheduleRuleError, match="deleted"):
        schedules.execute(handle, at=at(6))
    assert schedules.event_count() == count
    assert schedules.get_job(run).state == "New"


def test_a_deleted_schedules_name_can_be_submitted_again(schedules: JobLedger) -> None:
    handle = submit_hourly(schedules)
    schedules.delete(handle, at=at(0.5))
    again = schedules.submit("acme", "Nightly", optimize(), exec_schedule="0 30 * * * ?", at=at(1))
    assert again == handle
    schedule = schedules.get(handle)
    assert isinstance(schedule, Schedule)
    assert (schedule.deleted, schedule.triggerState, schedule.nextFireTime) == (False, "Normal", at(1.5))
    run = schedules.fire(handle, at=at(1.5))
    assert run is not None


def test_a_second_live_schedule_with_the_same_name_is_refused_and_appends_nothing(
    schedules: JobLedger,
) -> None:
    submit_hourly(schedules)
    with pytest.raises(ScheduleRuleError, match="already has a schedule named 'Nightly'"):
        schedules.submit("acme", "Nightly", optimize(), exec_time=at(5), at=at(0.5))
    assert schedules.event_count() == 1


def test_the_same_name_in_another_company_is_another_schedule(schedules: JobLedger) -> None:
    submit_hourly(schedules)
    assert schedules.submit("globex", "Nightly", optimize(), exec_schedule=HOURLY, at=T0) == "globex|Nightly|"


def _scheduled_run(ledger: JobLedger) -> tuple[str, str]:
    handle = submit_hourly(ledger)
    run = ledger.fire(handle, at=at(1))
    assert run is not None
    return handle, run


@pytest.mark.parametrize("verb", ["pause", "resume"])
def test_pausing_or_resuming_a_scheduled_run_says_to_stop_it_or_act_on_its_schedule(
    schedules: JobLedger, verb: str
) -> None:
    handle, run = _scheduled_run(schedules)
    count = schedules.event_count()
    with pytest.raises(ScheduleRuleError) as raised:
        getattr(schedules, verb)(run, at=at(2))
    message = str(raised.value)
    assert f"cannot {verb} run {run}" in message
    assert "stop the run" in message and f"{verb} its schedule {handle}" in message
    assert schedules.event_count() == count


@pytest.mark.parametrize("verb", ["pause", "resume"])
def test_pausing_or_resuming_a_run_without_a_schedule_is_refused_the_same_way(
    schedules: JobLedger, verb: str
) -> None:
    run = schedules.submit("acme", "Now", optimize(), at=T0)
    with pytest.raises(ScheduleRuleError, match=rf"cannot {verb} run .*stop the run.*{verb} the schedule"):
        getattr(schedules, verb)(run, at=at(1))
    assert schedules.event_count() == 1


def test_executing_a_run_is_refused(schedules: JobLedger) -> None:
    run = schedules.submit("acme", "Now", optimize(), at=T0)
    with pytest.raises(ScheduleRuleError, match="execute acts on schedules"):
        schedules.execute(run, at=at(1))
    assert schedules.event_count() == 1


def test_stopping_a_schedule_is_refused_naming_pause_or_delete(schedules: JobLedger) -> None:
    handle = submit_hourly(schedules)
    with pytest.raises(ScheduleRuleError, match=r"cannot stop schedule .*stop acts on runs; pause or delete"):
        schedules.request_stop(handle, at=at(1))
    assert schedules.event_count() == 1


@pytest.mark.parametrize(
    "command",
    [
        lambda ledger, handle: ledger.start(handle, "server-1", at=at(1)),
        lambda ledger, handle: ledger.update_progress(handle, 50, at=at(1)),
        lambda ledger, handle: ledger.log_detail(handle, "UploadSuccess", "ok", at=at(1)),
        lambda ledger, handle: ledger.complete(handle, at=at(1)),
    ],
    ids=["start", "progress", "log", "complete"],
)
def test_run_commands_on_a_schedule_handle_are_refused(schedules: JobLedger, command: object) -> None:
    handle = submit_hourly(schedules)
    with pytest.raises(ScheduleRuleError, match="is a schedule, not a run"):
        command(schedules, handle)  # type: ignore[operator]
    assert schedules.event_count() == 1


def test_operations_check_the_company_that_owns_the_schedule(schedules: JobLedger) -> None:
    handle = submit_hourly(schedules)
    with pytest.raises(UnknownHandleError):
        schedules.pause(handle, company="globex", at=at(1))
    with pytest.raises(UnknownHandleError):
        schedules.execute(handle, company="globex", at=at(1))
    assert schedules.event_count() == 1


def test_get_job_on_a_schedule_handle_says_it_is_a_schedule(schedules: JobLedger) -> None:
    handle = submit_hourly(schedules)
    with pytest.raises(RuleError, match="is a schedule, not a run"):
        schedules.get_job(handle)
    assert not isinstance(schedules.get(handle), Job)


def test_the_scheduled_view_lists_normal_and_paused_schedules_only(schedules: JobLedger) -> None:
    recurring = submit_hourly(schedules)
    paused = submit_hourly(schedules, "Weekly")
    once = schedules.submit("acme", "Once", optimize(), exec_time=at(2), at=T0)
    gone = submit_hourly(schedules, "Gone")
    schedules.pause(paused, at=at(0.5))
    schedules.delete(gone, at=at(0.5))
    schedules.fire(once, at=at(2))
    projector = open_projector(schedules)
    projector.catch_up()
    rows = scheduled_jobs(projector.db)
    assert {(r["jobHandle"], r["triggerState"]) for r in rows} == {(recurring, "Normal"), (paused, "Paused")}
    schedules.submit("acme", "Gone", optimize(), exec_schedule=HOURLY, at=at(3))
    projector.catch_up()
    rows = scheduled_jobs(projector.db, original_name="Gone")
    assert [(r["jobHandle"], r["triggerState"]) for r in rows] == [(gone, "Normal")]
