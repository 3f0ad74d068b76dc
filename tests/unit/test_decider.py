"""The decider on an in-memory StateSource: given committed events, when a batch is decided, then these events
(or this error) come out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from samples import OPTIMIZE, UPLOAD_DIRECTORY, at

from jobledger.domain.aggregates import Aggregate
from jobledger.domain.commands import (
    Command,
    Complete,
    Delete,
    Execute,
    Fire,
    LogDetail,
    Pause,
    RequestStop,
    Start,
    Submit,
)
from jobledger.domain.decider import Decider, StateSource
from jobledger.domain.errors import (
    ConcurrencyError,
    IdempotencyConflictError,
    InvalidTransitionError,
    RuleError,
    UnknownHandleError,
)
from jobledger.domain.events import Completed, DomainEvent, IdempotencyKeyClaimed, Submitted
from jobledger.domain.handles import idempotency_id, job_id
from jobledger.domain.job import Job
from jobledger.domain.memory import MemoryState
from jobledger.domain.payloads import AnyPayload, ExportJob, decode_payload
from jobledger.domain.schedule import Schedule, ScheduleOnlyError, ScheduleRuleError
from jobledger.domain.schedule_events import Fired

RUN = "acme||Nightly_2026-01-01-09:00:00"  # the run a submit of Nightly at at(0) creates
SCHEDULE = "acme|Nightly|"
HOURLY = "0 0 * * * ?"
SERVING = {"emailSetting": "All", "publishType": "Full"}
OPTIMIZE_JOB = decode_payload("optimizeImagesJob", OPTIMIZE)
NO_ASSETS = ExportJob(assetHandleArray=[], fmt="orig", emailSetting="All")  # the XSD wants at least one


def upload(**post: object) -> AnyPayload:
    return decode_payload("uploadDirectoryJob", json.dumps(json.loads(UPLOAD_DIRECTORY) | post))


def submit(seconds: float = 0, **fields: object) -> Submit:
    """A submit of Nightly by acme at at(seconds), of an optimize job unless the fields say otherwise."""
    command = Submit(company="acme", name="Nightly", payload=OPTIMIZE_JOB, at=at(seconds))
    return msgspec.structs.replace(command, **fields)


def decided(source: StateSource, *commands: Command) -> tuple[Decider, list[Aggregate]]:
    """A decider that decided the commands as one batch, and the state after each."""
    decider = Decider(source)
    return decider, [decider.decide(index, command) for index, command in enumerate(commands)]


def given(*commands: Command) -> MemoryState:
    """A source holding what the commands, decided and committed one batch each, made."""
    source = MemoryState()
    for command in commands:
        decider, _ = decided(source, command)
        source.commit(decider.events)
    return source


def kinds(events: list[DomainEvent]) -> list[str]:
    return [type(event).__name__ for event in events]


# --- submit ----------------------------------------------------------------------------------


def test_a_submit_creates_a_new_run_with_the_ips_handle_of_company_name_and_second() -> None:
    decider, [state] = decided(MemoryState(), submit(0, description="nightly optimise"))
    assert kinds(decider.events) == ["Submitted"]
    event = decider.events[0]
    assert isinstance(event, Submitted)
    assert (event.jobHandle, event.originator_id, event.originator_version) == (RUN, job_id(RUN), 1)
    assert (event.name, event.originalName) == ("Nightly_2026-01-01-09:00:00", "Nightly")
    assert (event.type, event.description) == ("ImageOptimization", "nightly optimise")
    assert (event.timestamp, event.triggerTime, event.scheduleHandle) == (at(0), None, None)
    assert isinstance(state, Job)
    assert (state.jobHandle, state.state, state.version, state.triggerTime) == (RUN, "New", 1, at(0))
    assert (list(decider.states), decider.created_runs, decider.used_cache) == ([RUN], [], set())


def test_a_second_submit_in_the_same_second_gets_the_counter_when_the_source_has_the_first() -> None:
    decider, [state] = decided(given(submit(0)), submit(0.5))
    assert kinds(decider.events) == ["Submitted"]
    assert (state.jobHandle, state.name) == (f"{RUN}-2", "Nightly_2026-01-01-09:00:00-2")


def test_submits_of_one_name_in_one_second_of_one_batch_count_up() -> None:
    decider, _ = decided(MemoryState(), submit(0), submit(0.3), submit(0.6), submit(1))
    handles = [e.jobHandle for e in decider.events if isinstance(e, Submitted)]
    assert handles == [RUN, f"{RUN}-2", f"{RUN}-3", "acme||Nightly_2026-01-01-09:00:01"]


def test_a_submit_with_an_exec_time_creates_a_one_off_schedule_and_no_run() -> None:
    decider, [state] = decided(MemoryState(), submit(0, exec_time=at(60)))
    assert kinds(decider.events) == ["Scheduled"]
    assert isinstance(state, Schedule)
    assert (state.jobHandle, state.version, state.triggerState) == (SCHEDULE, 1, "Normal")
    assert (state.execTime, state.nextFireTime, state.runCount) == (at(60), at(60), 0)
    assert (list(decider.states), decider.created_runs) == ([SCHEDULE], [])


def test_a_submit_with_an_exec_schedule_creates_a_schedule_due_at_its_first_fire_time() -> None:
    decider, [state] = decided(MemoryState(), submit(0, exec_schedule=HOURLY))
    assert kinds(decider.events) == ["Scheduled"]
    assert isinstance(state, Schedule)
    assert (state.jobHandle, state.execSchedule, state.nextFireTime) == (SCHEDULE, HOURLY, at(3600))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"payload": NO_ASSETS}, "invalid exportJob payload"),
        ({"name": "a|b"}, "job name must not contain '|'"),
        ({"company": " "}, "company must not be empty"),
        ({"locale": "english"}, "locale 'english' is not of the form"),
    ],
    ids=["payload", "name", "company", "locale"],
)
def test_a_bad_submit_raises_a_rule_error_and_the_decider_has_no_events(
    fields: dict[str, object], message: str
) -> None:
    decider = Decider(MemoryState())
    with pytest.raises(RuleError, match=message):
        decider.decide(0, submit(0, **fields))
    assert (decider.events, decider.states) == ([], {})


# --- fire and execute ------------------------------------------------------------------------


def test_a_fire_on_a_due_schedule_creates_a_run_triggered_at_the_fire_time() -> None:
    decider, [state] = decided(given(submit(0, exec_schedule=HOURLY)), Fire(handle=SCHEDULE, at=at(3630)))
    run = "acme||Nightly_2026-01-01-10:00:00"  # named by its trigger time, not by the tick
    assert kinds(decider.events) == ["Fired", "Submitted"]
    fired, submitted = decider.events
    assert isinstance(fired, Fired) and isinstance(submitted, Submitted)
    assert (fired.originator_id, fired.originator_version, fired.runHandle) == (job_id(SCHEDULE), 2, run)
    assert (fired.fireTime, fired.nextFireTime, fired.manual) == (at(3600), at(7200), False)
    assert (submitted.jobHandle, submitted.triggerTime, submitted.timestamp) == (run, at(3600), at(3630))
    assert submitted.scheduleHandle == SCHEDULE
    assert decider.created_runs == [run]
    assert isinstance(state, Schedule)
    assert (state.version, state.runCount, state.lastRunHandle, state.nextFireTime) == (2, 1, run, at(7200))


def test_a_fire_on_a_schedule_that_is_not_due_yields_no_events() -> None:
    decider, [state] = decided(given(submit(0, exec_schedule=HOURLY)), Fire(handle=SCHEDULE, at=at(3599)))
    assert (decider.events, decider.created_runs) == ([], [])
    assert isinstance(state, Schedule)
    assert (state.version, state.nextFireTime) == (1, at(3600))


def test_a_one_off_schedule_fires_once_and_completes() -> None:
    source = given(submit(0, exec_time=at(60)))
    decider, [state] = decided(source, Fire(handle=SCHEDULE, at=at(90)))
    assert kinds(decider.events) == ["Fired", "ScheduleCompleted", "Submitted"]
    assert [e.originator_version for e in decider.events] == [2, 3, 1]
    assert isinstance(state, Schedule)
    assert (state.triggerState, state.nextFireTime, state.runCount) == ("Complete", None, 1)
    assert decider.created_runs == ["acme||Nightly_2026-01-01-09:01:00"]
    source.commit(decider.events)
    again, _ = decided(source, Fire(handle=SCHEDULE, at=at(120)))
    assert (again.events, again.created_runs) == ([], [])


def test_execute_runs_a_schedule_now_without_moving_its_trigger() -> None:
    decider, [state] = decided(given(submit(0, exec_schedule=HOURLY)), Execute(handle=SCHEDULE, at=at(100)))
    run = "acme||Nightly_2026-01-01-09:01:40"
    assert kinds(decider.events) == ["Fired", "Submitted"]
    fired, submitted = decider.events
    assert isinstance(fired, Fired) and isinstance(submitted, Submitted)
    assert (fired.runHandle, fired.manual) == (run, True)
    assert (fired.fireTime, fired.nextFireTime) == (at(100), at(3600))
    assert (submitted.triggerTime, submitted.scheduleHandle) == (at(100), SCHEDULE)
    assert decider.created_runs == [run]
    assert isinstance(state, Schedule)
    assert (state.nextFireTime, state.lastFireTime, state.runCount) == (at(3600), at(100), 1)


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ([submit(0, exec_schedule=HOURLY), Delete(handle=SCHEDULE, at=at(10))], "it is deleted"),
        ([submit(0, exec_time=at(5)), Fire(handle=SCHEDULE, at=at(10))], "it is Complete"),
    ],
    ids=["deleted", "complete"],
)
def test_execute_of_a_deleted_or_complete_schedule_is_refused(history: list[Command], message: str) -> None:
    decider = Decider(given(*history))
    with pytest.raises(ScheduleRuleError, match=f"cannot execute schedule {SCHEDULE}: {message}"):
        decider.decide(0, Execute(handle=SCHEDULE, at=at(20)))
    assert (decider.events, decider.created_runs) == ([], [])


@pytest.mark.parametrize(
    ("command", "verb"),
    [
        (Fire(handle=RUN, at=at(5)), "execute"),
        (Execute(handle=RUN, at=at(5)), "execute"),
        (Pause(handle=RUN), "pause"),
    ],
    ids=["fire", "execute", "pause"],
)
def test_fire_execute_and_pause_of_a_run_are_refused_as_schedule_only(command: Command, verb: str) -> None:
    decider = Decider(given(submit(0)))
    with pytest.raises(ScheduleOnlyError, match=f"cannot {verb} run {RUN}") as caught:
        decider.decide(0, command)
    assert (caught.value.verb, caught.value.run, caught.value.schedule) == (verb, RUN, None)
    assert decider.events == []


# --- follow-on publish -----------------------------------------------------------------------


def test_completing_a_run_with_a_follow_on_creates_the_publish_run_in_the_same_batch() -> None:
    done = "acme||Upload_2026-01-01-09:00:00"
    source = given(
        submit(0, name="Upload", payload=upload(postImageServingPublishJob=SERVING)),
        Start(handle=done, server="s1", at=at(1)),
    )
    publish = "acme||Pub_Upload_2026-01-01-09:00:10"
    decider, [state] = decided(source, Complete(handle=done, at=at(10)))
    assert kinds(decider.events) == ["Completed", "Submitted"]
    completed, submitted = decider.events
    assert isinstance(completed, Completed) and isinstance(submitted, Submitted)
    assert (completed.originator_id, completed.originator_version) == (job_id(done), 3)
    assert completed.followOnHandle == publish
    assert (submitted.jobHandle, submitted.originator_version, submitted.followOnOf) == (publish, 1, done)
    assert (submitted.name, submitted.originalName) == ("Pub_Upload_2026-01-01-09:00:10", "Upload")
    assert (submitted.type, submitted.timestamp) == ("ImageServingPublish", at(10))
    assert isinstance(state, Job)
    assert (state.state, state.outcome, state.followOnHandle) == ("Done", "success", publish)
    assert (set(decider.states), decider.created_runs) == ({done, publish}, [])


@pytest.mark.parametrize("how", ["fatal", "stopped"])
def test_a_fatal_or_stopped_completion_creates_no_follow_on(how: str) -> None:
    done = "acme||Upload_2026-01-01-09:00:00"
    before: list[Command] = [RequestStop(handle=done, at=at(5))] if how == "stopped" else []
    source = given(
        submit(0, name="Upload", payload=upload(postImageServingPublishJob=SERVING)),
        Start(handle=done, server="s1", at=at(1)),
        *before,
    )
    decider, [state] = decided(source, Complete(handle=done, fatal=how == "fatal", at=at(10)))
    assert kinds(decider.events) == ["Completed"]
    completed = decider.events[0]
    assert isinstance(completed, Completed) and completed.followOnHandle is None
    assert isinstance(state, Job)
    assert (state.outcome, state.followOnHandle, list(decider.states)) == (how, None, [done])


# --- idempotency -----------------------------------------------------------------------------


def test_a_submit_with_an_idempotency_key_claims_the_key_for_its_run() -> None:
    decider, [state] = decided(MemoryState(), submit(0, idempotency_key="req-1"))
    assert kinds(decider.events) == ["Submitted", "IdempotencyKeyClaimed"]
    claim = decider.events[1]
    assert isinstance(claim, IdempotencyKeyClaimed)
    assert (claim.originator_id, claim.originator_version) == (idempotency_id("acme", "req-1"), 1)
    assert (claim.companyHandle, claim.key, claim.jobHandle, claim.timestamp) == ("acme", "req-1", RUN, at(0))
    assert len(claim.requestDigest) == 64 and state.jobHandle == RUN


def test_the_same_key_and_request_again_returns_the_first_run_and_appends_nothing() -> None:
    source = given(submit(0, idempotency_key="req-1"))
    decider, [state] = decided(source, submit(30, idempotency_key="req-1"))
    assert decider.events == []
    assert isinstance(state, Job) and (state.jobHandle, state.version, state.submitDate) == (RUN, 1, at(0))


def test_the_same_key_with_a_different_request_raises_an_idempotency_conflict() -> None:
    decider = Decider(given(submit(0, idempotency_key="req-1")))
    with pytest.raises(
        IdempotencyConflictError, match=rf"'req-1' was used for a different request \(job {RUN}\)"
    ):
        decider.decide(0, submit(30, idempotency_key="req-1", description="another"))
    assert decider.events == []


def test_two_submits_with_the_same_key_in_one_batch_give_one_run() -> None:
    decider, states = decided(
        MemoryState(), submit(0, idempotency_key="req-1"), submit(0.5, idempotency_key="req-1")
    )
    assert kinds(decider.events) == ["Submitted", "IdempotencyKeyClaimed"]
    assert [state.jobHandle for state in states] == [RUN, RUN]


# --- batches ---------------------------------------------------------------------------------


def test_later_commands_of_a_batch_see_the_effects_of_earlier_ones() -> None:
    decider, states = decided(
        MemoryState(),
        submit(0),
        Start(handle=RUN, server="s1", at=at(1)),
        LogDetail(handle=RUN, log_type="BeginReoptimize", message="go", at=at(2)),
        Complete(handle=RUN, at=at(3)),
    )
    assert kinds(decider.events) == ["Submitted", "Started", "DetailLogged", "Completed"]
    assert [e.originator_version for e in decider.events] == [1, 2, 3, 4]
    assert [s.state for s in states if isinstance(s, Job)] == ["New", "Running", "Running", "Done"]
    assert list(decider.states) == [RUN]


def test_a_rule_error_on_the_second_command_names_it_and_keeps_its_type() -> None:
    decider = Decider(given(submit(0), Start(handle=RUN, server="s1", at=at(1))))
    decider.decide(0, LogDetail(handle=RUN, log_type="BeginReoptimize", message="go", at=at(2)))
    with pytest.raises(InvalidTransitionError) as caught:
        decider.decide(1, Start(handle=RUN, server="s2", at=at(3)))
    message = f"command 2 (Start): cannot start job {RUN}: it is Running; a run starts only once"
    assert str(caught.value) == message
    assert (caught.value.handle, caught.value.state, caught.value.action) == (RUN, "Running", "start")


def test_a_rule_error_on_the_first_command_is_raised_as_the_rule_says_it() -> None:
    with pytest.raises(RuleError) as caught:
        Decider(given(submit(0))).decide(0, Start(handle=RUN, server=" ", at=at(1)))
    assert str(caught.value) == "server name must not be empty"


def test_a_cached_state_is_decided_on_and_recorded_in_used_cache() -> None:
    source = given(submit(0), submit(0.5))
    stale = source.states[RUN]
    source.commit(decided(source, Start(handle=RUN, server="s1", at=at(1)))[0].events)
    source.cache[RUN] = stale  # remembered before the start: the decider cannot tell
    other = f"{RUN}-2"
    decider, [state, _] = decided(
        source, Start(handle=RUN, server="s2", at=at(2)), Delete(handle=other, at=at(2))
    )
    assert decider.used_cache == {RUN}  # the other run was loaded, not cached
    assert isinstance(state, Job) and (state.serverName, state.version) == ("s2", 2)
    with pytest.raises(ConcurrencyError, match=f"Started of {RUN} has version 2, expected 3"):
        source.commit(decider.events)  # as the store refuses the append of a stale decision
    assert (source.states[RUN].version, source.states[other].version) == (2, 1)  # nothing committed


def test_an_unknown_handle_raises_unknown_handle_error() -> None:
    with pytest.raises(UnknownHandleError, match=r"no job with handle 'acme\|\|nothing'$"):
        Decider(given(submit(0))).decide(0, Start(handle="acme||nothing", server="s1", at=at(1)))


def test_a_handle_of_another_company_raises_unknown_handle_error() -> None:
    decider = Decider(given(submit(0)))
    with pytest.raises(UnknownHandleError, match=f"no job with handle '{RUN}' for company globex"):
        decider.decide(0, Start(handle=RUN, server="s1", company="globex", at=at(1)))
    assert (decider.events, decider.states) == ([], {})


def test_an_unknown_handle_later_in_a_batch_names_the_command() -> None:
    decider = Decider(given(submit(0)))
    decider.decide(0, Start(handle=RUN, server="s1", at=at(1)))
    with pytest.raises(
        UnknownHandleError, match=r"^command 2 \(Complete\): no job with handle 'acme\|\|gone'$"
    ):
        decider.decide(1, Complete(handle="acme||gone", at=at(2)))


def test_a_refused_execute_leaves_no_run_behind_in_the_batch() -> None:
    decider = Decider(given(submit(0, exec_schedule=HOURLY), Pause(handle=SCHEDULE, at=at(50))))
    # An execute stamped before the schedule's last event is refused after its run was named.
    with pytest.raises(RuleError, match="before the last event"):
        decider.decide(0, Execute(handle=SCHEDULE, at=at(40)))
    assert (decider.events, decider.created_runs, list(decider.states)) == ([], [], [])
    with pytest.raises(UnknownHandleError):
        decider.decide(1, Start(handle="acme||Nightly_2026-01-01-09:00:40", server="s1", at=at(60)))


# --- times ------------------------------------------------------------------------------------


def test_a_command_given_no_time_is_stamped_at_its_runs_last_event_when_that_is_later_than_now() -> None:
    # Another server's clock ran ahead: its event is stamped after this server's "now".
    future = datetime.now(UTC) + timedelta(seconds=90)
    source = given(submit(0), Start(handle=RUN, server="ips-1", at=future))

    decider, [state] = decided(source, LogDetail(handle=RUN, log_type="FileBegin", message="a.jpg"))

    assert kinds(decider.events) == ["DetailLogged"]
    assert decider.events[0].timestamp == future
    assert isinstance(state, Job) and state.lastEventTime == future


def test_a_command_given_no_time_is_stamped_now_when_the_run_is_older() -> None:
    before = datetime.now(UTC)
    decider, _ = decided(given(submit(0)), Start(handle=RUN, server="ips-1"))
    assert before <= decider.events[0].timestamp <= datetime.now(UTC)


def test_a_time_the_caller_gave_before_the_runs_last_event_is_still_refused() -> None:
    source = given(submit(0), Start(handle=RUN, server="ips-1", at=at(60)))
    with pytest.raises(RuleError, match="is before the last event of job"):
        decided(source, LogDetail(handle=RUN, log_type="FileBegin", message="a.jpg", at=at(30)))
