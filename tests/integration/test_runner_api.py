"""The Python API a runner's author expects (issue 11, E): a context manager, an idempotent close,
a replay flag on submit, names that match the CLI, and errors that keep their cause."""

from __future__ import annotations

import msgspec
import pytest
from samples import OPTIMIZE, at

from jobledger.domain.cron import CronError, zone
from jobledger.domain.errors import IdempotencyConflictError, InvalidFieldError
from jobledger.domain.payloads import PayloadError, decode_payload
from jobledger.service import JobLedger, Submission

PAYLOAD = decode_payload("optimizeImagesJob", OPTIMIZE)


def test_with_closes_the_ledger_and_close_may_be_called_again(sqlite_db: str) -> None:
    with JobLedger(sqlite_db) as ledger:
        handle = ledger.submit("acme", "nightly", PAYLOAD, at=at(0))

    ledger.close()  # a second close does nothing
    with JobLedger(sqlite_db, create=False) as again:
        assert again.get(handle).state == "New"


def test_submit_job_says_whether_an_idempotent_submit_was_a_replay(ledger: JobLedger) -> None:
    first = ledger.submit_job("acme", "nightly", PAYLOAD, idempotency_key="k1", at=at(0))
    again = ledger.submit_job("acme", "nightly", PAYLOAD, idempotency_key="k1", at=at(5))
    plain = ledger.submit("acme", "nightly", PAYLOAD, idempotency_key="k1", at=at(6))

    assert first == Submission(first.handle, replayed=False)
    assert again == Submission(first.handle, replayed=True)
    assert plain == first.handle  # submit still returns the handle
    assert ledger.submit_job("acme", "other", PAYLOAD, at=at(7)).replayed is False
    assert ledger.event_count() == 3  # two Submitted and one claim


def test_a_replay_with_a_different_request_is_still_a_conflict(ledger: JobLedger) -> None:
    ledger.submit_job("acme", "nightly", PAYLOAD, idempotency_key="k1", at=at(0))

    with pytest.raises(IdempotencyConflictError):
        ledger.submit_job("acme", "changed", PAYLOAD, idempotency_key="k1", at=at(1))


def test_stop_is_the_cli_name_of_request_stop(ledger: JobLedger) -> None:
    handle = ledger.submit("acme", "nightly", PAYLOAD, at=at(0))
    ledger.start(handle, "srv1", at=at(1))

    job = ledger.stop(handle, reason="maintenance", requested_by="ops@example.com", at=at(2))

    assert (job.state, job.stopReason) == ("Stopping", "maintenance")
    assert ledger.request_stop(ledger.submit("acme", "n2", PAYLOAD, at=at(3)), at=at(4)).state == "Done"


def test_errors_keep_their_cause(ledger: JobLedger) -> None:
    with pytest.raises(InvalidFieldError) as wrong_type:
        ledger.submit("acme", "nightly", PAYLOAD, locale=7)  # type: ignore[arg-type]
    with pytest.raises(PayloadError) as bad_payload:
        decode_payload("optimizeImagesJob", '{"emailSetting": 3}')
    with pytest.raises(CronError) as bad_zone:
        zone("Mars/Olympus_Mons")

    assert isinstance(wrong_type.value.__cause__, msgspec.ValidationError)
    assert isinstance(bad_payload.value.__cause__, msgspec.ValidationError)
    assert bad_zone.value.__cause__ is not None
