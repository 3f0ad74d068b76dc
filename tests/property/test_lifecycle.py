"""Random command sequences: a run moves only forward, never out of Done, and the store agrees."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta

import msgspec
import strategies
from domain_support import HANDLE, STATE_ORDER, submitted, then
from hypothesis import HealthCheck, given, settings
from samples import OPTIMIZE, T0, at

from jobledger.domain.aggregates import fold
from jobledger.domain.commands import Delete, JobCommand, decide
from jobledger.domain.errors import RuleError
from jobledger.domain.job import Job, decide_complete, decide_start
from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import JobLedger

Steps = list[tuple[JobCommand, int]]


def drive(job: Job, steps: Steps, check: Callable[[Job, JobCommand, Job | None], None]) -> Job:
    """Apply each command in turn (skipping refused ones); `check(before, command, after or None)`."""
    moment = job.lastEventTime
    assert moment is not None
    for command, seconds in steps:
        moment += timedelta(seconds=seconds)
        try:
            events = decide(strategies.bound(command, job.jobHandle), job, moment)
        except RuleError:
            check(job, command, None)
            continue
        after = then(job, events)
        check(job, command, after)
        job = after
    return job


def only_forward_and_never_out_of_done(before: Job, command: JobCommand, after: Job | None) -> None:
    if after is None:
        return
    assert STATE_ORDER[after.state] >= STATE_ORDER[before.state]
    assert after.version > before.version
    if before.state == "Done":
        # The one thing a finished run still accepts is its first delete, which only marks it deleted.
        assert isinstance(command, Delete)
        assert not before.deleted
        assert after.state == "Done"
        assert after.deleted
        unchanged = msgspec.structs.replace(
            after, version=before.version, deleted=False, lastEventTime=before.lastEventTime
        )
        assert unchanged == before


@settings(max_examples=200)
@given(steps=strategies.steps)
def test_no_command_sequence_moves_a_run_backwards_or_out_of_done(steps: Steps) -> None:
    drive(submitted(), steps, only_forward_and_never_out_of_done)


@settings(max_examples=150)
@given(steps=strategies.steps)
def test_once_done_every_command_but_the_first_delete_raises_a_rule_error_and_changes_nothing(
    steps: Steps,
) -> None:
    job = submitted()
    job = then(job, decide_start(job, "srv1", 0, at(1)))
    done = then(job, decide_complete(job, False, "", None, at(2)))
    deleted = False

    for command, seconds in steps:
        moment = at(2 + abs(seconds))
        bound = strategies.bound(command, HANDLE)
        if isinstance(command, Delete) and not deleted:
            after = then(done, decide(bound, done, moment))
            assert (after.state, after.deleted, after.outcome) == ("Done", True, done.outcome)
            done, deleted = after, True
            continue
        recorded = msgspec.json.encode(done)
        try:
            decide(bound, done, moment)
        except RuleError:
            # The refusal left the finished run as it was recorded before the command.
            assert msgspec.json.encode(done) == recorded
        else:
            raise AssertionError(f"{type(command).__name__} was accepted on a finished run")


_names = itertools.count()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=strategies.steps)
def test_folding_the_stored_history_gives_the_state_the_commands_returned(
    ledger: JobLedger, steps: Steps
) -> None:
    handle = ledger.submit("acme", f"job{next(_names)}", decode_payload("optimizeImagesJob", OPTIMIZE), at=T0)
    job = ledger.get(handle)
    expected = job
    moment = T0

    for command, seconds in steps:
        moment += timedelta(seconds=seconds)
        bound = msgspec.structs.replace(strategies.bound(command, handle), at=moment)
        try:
            expected = then(expected, decide(bound, expected, moment))
        except RuleError:
            refused = True
        else:
            refused = False
        try:
            (job,) = ledger.record([bound])
        except RuleError:
            assert refused, f"the ledger refused {type(command).__name__} that the rules accept"
        else:
            assert not refused, f"the ledger accepted {type(command).__name__} that the rules refuse"

    assert job == expected
    assert fold(ledger.history(handle)) == job
    assert ledger.get(handle) == job
    fresh = JobLedger(ledger.db)
    try:
        assert fresh.get(handle) == job
    finally:
        fresh.close()
