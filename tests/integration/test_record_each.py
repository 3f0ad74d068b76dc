"""record_each (group commit): each command of a group stands alone; those that keep the rules are
appended in one transaction, each with the position of its last event."""

from __future__ import annotations

from samples import OPTIMIZE, at

from jobledger.domain.commands import Complete, LogDetail, Start, Submit, UpdateProgress
from jobledger.domain.errors import InvalidFieldError, InvalidTransitionError, UnknownHandleError
from jobledger.domain.job import Job
from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import JobLedger

PAYLOAD = decode_payload("optimizeImagesJob", OPTIMIZE)


def test_a_broken_command_fails_alone_and_the_others_are_appended(ledger: JobLedger) -> None:
    run = ledger.submit("acme", "nightly", PAYLOAD, at=at(0))
    ledger.start(run, "srv1", at=at(1))
    before = ledger.event_count()
    group = [
        LogDetail(handle=run, log_type="UploadSuccess", message="a.jpg", at=at(2)),
        UpdateProgress(handle=run, percent=50.5, at=at(3)),  # type: ignore[arg-type]
        LogDetail(handle="acme||nothing", log_type="UploadSuccess", message="x", at=at(3)),
        Submit(company="acme", name="other", payload=PAYLOAD, idempotency_key="k1", at=at(4)),
        Start(handle=run, server="srv2", at=at(5)),
        UpdateProgress(handle=run, percent=60, at=at(6)),
        Submit(company="acme", name="other", payload=PAYLOAD, idempotency_key="k1", at=at(7)),
    ]
    outcomes, positions, replayed = ledger.record_each(group)

    assert isinstance(outcomes[1], InvalidFieldError) and "percent" in str(outcomes[1])
    assert isinstance(outcomes[2], UnknownHandleError)
    assert isinstance(outcomes[4], InvalidTransitionError)
    assert not str(outcomes[4]).startswith("command")  # each command is answered on its own
    assert [isinstance(outcome, Exception) for outcome in outcomes] == [
        False,
        True,
        True,
        False,
        True,
        False,
        False,
    ]
    assert replayed == [False, False, False, False, False, False, True]
    # Three commands made events: the row, the submit (its run and its key's claim), the progress.
    assert ledger.event_count() == before + 4
    assert positions[1] == positions[2] == positions[4] == 0
    assert positions[0] == before + 1 and positions[3] == before + 3 and positions[5] == before + 4
    assert positions[6] == 0  # a replay appends nothing
    state = ledger.get_job(run)
    assert isinstance(outcomes[5], Job) and outcomes[5] == state and state.progress == 60
    assert outcomes[6].jobHandle == outcomes[3].jobHandle  # type: ignore[union-attr]


def test_a_group_whose_commands_all_fail_appends_nothing(ledger: JobLedger) -> None:
    run = ledger.submit("acme", "nightly", PAYLOAD, at=at(0))
    before = ledger.event_count()
    outcomes, positions, _ = ledger.record_each(
        [Complete(handle=run, at=at(1)), LogDetail(handle=run, log_type="Nope", message="m", at=at(1))]
    )
    assert all(isinstance(outcome, Exception) for outcome in outcomes)
    assert positions == [0, 0]
    assert ledger.event_count() == before


def test_commands_of_a_group_see_the_states_the_commands_before_them_left(ledger: JobLedger) -> None:
    run = ledger.submit("acme", "nightly", PAYLOAD, at=at(0))
    outcomes, positions, _ = ledger.record_each(
        [
            Start(handle=run, server="srv1", at=at(1)),
            UpdateProgress(handle=run, percent=10, at=at(2)),
            Complete(handle=run, at=at(3)),
            UpdateProgress(handle=run, percent=20, at=at(4)),  # the run is Done by now
        ]
    )
    assert isinstance(outcomes[3], InvalidTransitionError)
    assert positions[:3] == sorted(positions[:3]) and positions[3] == 0
    assert ledger.get_job(run).state == "Done"


def test_the_ledger_counts_the_events_it_appended_by_kind_once_they_are_committed(ledger: JobLedger) -> None:
    run = ledger.submit("acme", "nightly", PAYLOAD, at=at(0))
    ledger.create_token("acme", "IpsUser")
    assert ledger.appended == {"Submitted": 1, "TokenIssued": 1}
    group = [
        Start(handle=run, server="srv1", at=at(1)),
        Start(handle=run, server="srv2", at=at(2)),  # broken: counted for nothing
        LogDetail(handle=run, log_type="UploadSuccess", message="a.jpg", at=at(3)),
    ]
    if ledger.can_hold_commit:
        with ledger.holding_commit():
            ledger.record_each(group)
        assert ledger.appended["Started"] == 0  # not committed yet
        ledger.commit_held()
    else:
        ledger.record_each(group)
    assert ledger.appended == {"Submitted": 1, "TokenIssued": 1, "Started": 1, "DetailLogged": 1}
    assert sum(ledger.appended.values()) == ledger.event_count()
