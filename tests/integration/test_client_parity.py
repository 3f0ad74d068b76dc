"""jobledger.client.Client and a JobLedger on the same ledger agree where a review found they did
not: the same value, or the same error type, message and attributes, and nothing appended."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from samples import OPTIMIZE
from server_support import Served, job_path, served_pair

from jobledger.client import Client
from jobledger.domain.commands import LogDetail
from jobledger.domain.errors import InvalidFieldError, InvalidValueError, UnknownHandleError
from jobledger.domain.payloads import decode_payload
from jobledger.domain.schedule import ScheduleOnlyError
from jobledger.service import JobLedger
from jobledger.service.commanding import Commands
from jobledger.service.tokens import UnknownTokenError

PAYLOAD = decode_payload("optimizeImagesJob", OPTIMIZE)
Call = Callable[[Any], object]


class Pair:
    """A client of a served ledger, the same ledger opened in this process, and the server."""

    def __init__(self, client: Client, ledger: JobLedger, server: Served, token: str) -> None:
        self.client, self.ledger, self.server, self.token = client, ledger, server, token

    def same_error(self, call: Call) -> BaseException:
        """The error `call` raises on the ledger, checked to be the client's to the type, message
        and attributes, with nothing appended by either."""
        before = self.ledger.event_count()
        with pytest.raises(Exception) as remote:
            call(self.client)
        with pytest.raises(Exception) as local:
            call(self.ledger)
        assert (type(remote.value), str(remote.value)) == (type(local.value), str(local.value))
        assert vars(remote.value) == vars(local.value)
        assert self.ledger.event_count() == before
        return local.value


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    with served_pair(str(tmp_path / "ledger.db")) as parts:
        yield Pair(*parts)


def a_run_of_five_events(api: Commands) -> str:
    handle = api.submit("acme", "nightly", PAYLOAD, at="2026-01-01T00:00:00Z")
    api.start(handle, "srv1", at="2026-01-01T00:01:00Z")
    api.update_progress(handle, 30, at="2026-01-01T00:02:00Z")
    api.update_progress(handle, 60, at="2026-01-01T00:03:00Z")
    api.complete(handle, at="2026-01-01T00:04:00Z")
    return handle


def test_revoking_a_token_of_another_company_than_the_one_named_revokes_nothing(pair: Pair) -> None:
    beta = pair.ledger.create_token("beta", "IpsUser").token
    err = pair.same_error(lambda api: api.revoke_token(beta.tokenId, company="acme"))
    assert isinstance(err, UnknownTokenError)
    assert str(err) == f"no token with id {beta.tokenId!r} for company acme"
    assert pair.ledger.tokens().by_id[beta.tokenId].active
    revoked = pair.client.revoke_token(beta.tokenId, company="beta")
    assert revoked == pair.ledger.tokens().by_id[beta.tokenId] and not revoked.active


def test_state_at_applies_a_time_and_a_version_together(pair: Pair) -> None:
    handle = a_run_of_five_events(pair.client)
    for as_of, version in ((datetime(2026, 1, 1, 0, 3, tzinfo=UTC), 2), (datetime(2026, 1, 1, 0, 1), 4)):
        local = pair.ledger.state_at(handle, as_of=as_of, version=version)
        assert pair.client.state_at(handle, as_of=as_of, version=version) == local
        assert local.version == 2
    status, body = pair.server.call(
        "GET",
        f"{job_path(handle)}?asOf=2026-01-01T00:03:00Z&version=2",
        headers={"authorization": f"Bearer {pair.token}"},
    )
    assert status == 200 and body["version"] == 2


def test_a_version_the_run_does_not_have_is_the_ledgers_error(pair: Pair) -> None:
    handle = a_run_of_five_events(pair.client)
    for version in (0, -1, 6):
        err = pair.same_error(lambda api, v=version: api.state_at(handle, version=v))
        assert isinstance(err, InvalidValueError)
        assert str(err) == f"{handle} has versions 1 to 5, not {version}"


def test_an_errors_attributes_that_are_none_come_back_as_none(pair: Pair) -> None:
    handle = pair.client.submit("acme", "nightly", PAYLOAD)
    for call in (
        lambda api: api.pause(handle),
        lambda api: api.resume(handle),
        lambda api: api.execute(handle),
    ):
        err = pair.same_error(call)
        assert isinstance(err, ScheduleOnlyError) and err.schedule is None


def test_an_empty_batch_records_nothing(pair: Pair) -> None:
    assert pair.client.record([]) == pair.ledger.record([]) == []
    assert pair.client.record_each([]) == pair.ledger.record_each([])


def test_an_unknown_role_is_the_ledgers_error_over_http_too(pair: Pair) -> None:
    err = pair.same_error(lambda api: api.create_token("beta", "God"))
    assert str(err) == "unknown role 'God': one of IpsAdmin, IpsCompanyAdmin, IpsUser, ReadOnly"
    status, body = pair.server.call(
        "POST",
        "/v1/tokens",
        {"companyHandle": "beta", "role": "God"},
        {"authorization": f"Bearer {pair.token}"},
    )
    assert status == 400 and body["error"]["message"] == str(err)


def test_an_empty_handle_is_unknown_to_every_method(pair: Pair) -> None:
    calls: list[Call] = [
        lambda api: api.get(""),
        lambda api: api.get_job(""),
        lambda api: api.history(""),
        lambda api: api.state_at("", version=1),
        lambda api: api.start("", "srv1"),
        lambda api: api.update_progress("", 10),
        lambda api: api.log_detail("", "UploadSuccess", "ok"),
        lambda api: api.complete(""),
        lambda api: api.stop(""),
        lambda api: api.delete(""),
        lambda api: api.pause(""),
        lambda api: api.resume(""),
        lambda api: api.execute(""),
    ]
    for call in calls:
        assert isinstance(pair.same_error(call), UnknownHandleError)
    err = pair.same_error(lambda api: api.get("", company="acme"))
    assert str(err) == "no job with handle '' for company acme"


def test_state_at_takes_a_time_as_the_commands_take_it(pair: Pair) -> None:
    handle = a_run_of_five_events(pair.client)
    for as_of in ("2026-01-01T00:02:00Z", "2026-01-01T00:02:00", datetime(2026, 1, 1, 0, 2)):
        local = pair.ledger.state_at(handle, as_of=as_of)
        assert local.version == 3 and pair.client.state_at(handle, as_of=as_of) == local
    for bad in ("yesterday", 5, "0001-01-01T00:00:00Z"):
        err = pair.same_error(lambda api, b=bad: api.state_at(handle, as_of=b))
        assert isinstance(err, InvalidFieldError) and err.field == "as_of"
    err = pair.same_error(lambda api: api.state_at(handle, version="2"))
    assert isinstance(err, InvalidFieldError) and err.field == "version"


def test_record_each_sends_more_than_a_request_takes_in_pieces(pair: Pair) -> None:
    handle = pair.ledger.submit("acme", "many", PAYLOAD)
    pair.ledger.start(handle, "srv1")
    rows = [LogDetail(handle=handle, log_type="UploadSuccess", message=f"f{n}") for n in range(1500)]
    before = pair.ledger.event_count()
    outcomes = pair.client.record_each(rows)
    assert len(outcomes.outcomes) == 1500 and all(position > 0 for position in outcomes.positions)
    assert outcomes.positions == sorted(outcomes.positions)
    assert pair.ledger.event_count() == before + 1500


def test_record_of_more_than_a_request_takes_is_refused_whole(pair: Pair) -> None:
    handle = pair.ledger.submit("acme", "many", PAYLOAD)
    pair.ledger.start(handle, "srv1")
    rows = [LogDetail(handle=handle, log_type="UploadSuccess", message=f"f{n}") for n in range(1001)]
    before = pair.ledger.event_count()
    with pytest.raises(InvalidFieldError, match="at most 1000"):
        pair.client.record(rows)
    assert pair.ledger.event_count() == before
