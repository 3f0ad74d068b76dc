"""jobledger.client.Client against a real server: JobLedger's methods, its return values to the
field, its errors to the type, and nothing sent when an argument is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from samples import OPTIMIZE
from server_support import served_pair

from jobledger.client import AccessDeniedError, Client, ServerError
from jobledger.domain.errors import (
    IdempotencyConflictError,
    InvalidFieldError,
    InvalidTransitionError,
    UnknownHandleError,
)
from jobledger.domain.events import Counters, JobLogDetailAux, TaskProgress
from jobledger.domain.payloads import decode_payload
from jobledger.domain.schedule import ScheduleOnlyError
from jobledger.service import JobLedger, Submission

PAYLOAD = decode_payload("optimizeImagesJob", OPTIMIZE)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Client, JobLedger]]:
    """A client of a served ledger, and the same ledger opened in this process."""
    with served_pair(str(tmp_path / "ledger.db")) as (client, ledger, _, _):
        yield client, ledger


def test_a_runner_drives_a_run_and_gets_what_the_ledger_holds(pair: tuple[Client, JobLedger]) -> None:
    client, ledger = pair
    first = client.submit_job("acme", "nightly", PAYLOAD, idempotency_key="k1", user_email="a@b.c")
    assert client.submit_job(
        "acme", "nightly", PAYLOAD, idempotency_key="k1", user_email="a@b.c"
    ) == Submission(first.handle, replayed=True)
    handle = first.handle
    states = [
        client.start(handle, "srv1", total_size=3),
        client.update_progress(
            handle, 40, message="2 of 5", tasks=[TaskProgress(taskType="Upload", progress=0.4)]
        ),
        client.log_detail(
            handle,
            "UploadSuccess",
            "ok",
            asset_name="a.jpg",
            aux=[JobLogDetailAux(logMessage="note", logType="UploadWarning")],
        ),
        client.complete(handle, message="done", counters=Counters(fileSuccessCount=1)),
    ]
    history = ledger.history(handle)
    assert states[-1] == ledger.get(handle)  # every field, lastEventTime and id included
    assert client.get(handle) == ledger.get(handle) and client.get_job(handle) == ledger.get_job(handle)
    assert client.history(handle) == history
    assert client.history(handle, limit=2) == ledger.history(handle, limit=2) == history[:2]
    assert client.state_at(handle, version=3) == ledger.state_at(handle, version=3)
    assert client.state_at(handle, as_of=history[1].timestamp) == ledger.state_at(
        handle, as_of=history[1].timestamp
    )
    assert client.head_position() == ledger.head_position()


def test_schedules_are_paused_resumed_executed_and_deleted(pair: tuple[Client, JobLedger]) -> None:
    client, ledger = pair
    schedule = client.submit("acme", "daily", PAYLOAD, exec_schedule="0 0 3 * * ? 2070")
    assert client.pause(schedule).triggerState == "Paused"
    assert client.resume(schedule) == ledger.get(schedule)
    run = client.execute(schedule)
    assert ledger.get(run).scheduleHandle == schedule
    assert client.stop(run, reason="no").state == "Done"
    assert client.delete(schedule) == ledger.get(schedule)


def test_errors_are_the_ledgers_own(pair: tuple[Client, JobLedger]) -> None:
    client, ledger = pair
    handle = client.submit("acme", "nightly", PAYLOAD, idempotency_key="k")
    for call in (
        lambda api: api.complete(handle),
        lambda api: api.start("acme||nope", "s1"),
        lambda api: api.start(handle, "s1", company="globex"),
        lambda api: api.pause(handle),
        lambda api: api.submit("acme", "other", PAYLOAD, idempotency_key="k"),
    ):
        with pytest.raises(Exception) as remote:
            call(client)
        with pytest.raises(Exception) as local:
            call(ledger)
        assert type(remote.value) is type(local.value)
        assert str(remote.value) == str(local.value)
        assert isinstance(
            remote.value,
            InvalidTransitionError | UnknownHandleError | ScheduleOnlyError | IdempotencyConflictError,
        )


def test_a_wrong_argument_is_refused_before_anything_is_sent(pair: tuple[Client, JobLedger]) -> None:
    client, ledger = pair
    handle = client.submit("acme", "nightly", PAYLOAD)
    client.start(handle, "srv1")
    before = ledger.event_count()
    for bad in (
        lambda: client.update_progress(handle, 50.5),  # type: ignore[arg-type]
        lambda: client.update_progress(handle, True),  # type: ignore[arg-type]
        lambda: client.log_detail(handle, "UploadSuccess", None),  # type: ignore[arg-type]
        lambda: client.complete(handle, message=b"x"),  # type: ignore[arg-type]
        lambda: client.submit("acme", "n", PAYLOAD, user_email=None),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidFieldError):
            bad()
    assert ledger.event_count() == before


def test_another_companys_run_is_unknown_and_a_bad_token_is_refused(
    pair: tuple[Client, JobLedger], tmp_path: Path
) -> None:
    admin, ledger = pair
    other = ledger.submit("globex", "theirs", PAYLOAD)
    issued = admin.create_token("acme", "IpsUser", name="runner")
    assert issued.token.tokenId in admin.tokens().by_id
    with Client(admin.url, issued.secret) as client:
        with pytest.raises(UnknownHandleError):
            client.get(other)
        with pytest.raises(UnknownHandleError):
            client.start(other, "s1")
        with pytest.raises(AccessDeniedError):
            client.pause(other)
    assert admin.revoke_token(issued.token.tokenId).revoked is not None
    with Client(client.url, "jlt_nope_nope") as stranger, pytest.raises(AccessDeniedError):
        stranger.get(other)


def test_a_server_that_is_not_there_is_one_clear_error() -> None:
    from server_support import free_port

    with Client(f"http://127.0.0.1:{free_port()}") as client, pytest.raises(ServerError) as err:
        client.head_position()
    assert "cannot reach the server" in str(err.value)
