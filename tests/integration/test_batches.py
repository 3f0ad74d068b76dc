"""POST /v1/batch and the client's record / record_each: all-or-none in one transaction, or each
command alone in one group commit; the states, errors and positions JobLedger gives; roles and
companies checked per command; nothing appended by a refused batch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from samples import OPTIMIZE
from server_support import Served, job_path, serving

from jobledger.client import AccessDeniedError, Client
from jobledger.domain.commands import Complete, Fire, LogDetail, Start, Submit, UpdateProgress
from jobledger.domain.errors import (
    InvalidFieldError,
    InvalidTransitionError,
    RuleError,
    UnknownHandleError,
)
from jobledger.domain.job import Job
from jobledger.domain.payloads import decode_payload
from jobledger.service import JobLedger

PAYLOAD = decode_payload("optimizeImagesJob", OPTIMIZE)
BODY = {"optimizeImagesJob": {"emailSetting": "All"}}


class World:
    def __init__(self, server: Served, tokens: dict[str, str], db: str) -> None:
        self.server, self.tokens, self.db = server, tokens, db
        self.url = f"http://127.0.0.1:{server.port}"

    def client(self, who: str) -> Client:
        return Client(self.url, self.tokens[who])

    def post(self, who: str, body: object) -> tuple[int, dict[str, object]]:
        status, answer = self.server.call(
            "POST", "/v1/batch", body, headers={"authorization": f"Bearer {self.tokens[who]}"}
        )
        return status, answer

    def count(self) -> int:
        with JobLedger(self.db, create=False) as ledger:
            return ledger.head_position()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db = str(tmp_path_factory.mktemp("batch") / "ledger.db")
    with JobLedger(db) as ledger:
        tokens = {
            "admin": ledger.create_token("acme", "IpsAdmin").secret,
            "user": ledger.create_token("acme", "IpsUser").secret,
            "reader": ledger.create_token("acme", "ReadOnly").secret,
            "globex": ledger.create_token("globex", "IpsUser").secret,
        }
    with serving(db, auth=True) as server:
        yield World(server, tokens, db)


def test_record_drives_a_run_in_one_transaction_and_returns_each_state(world: World) -> None:
    with world.client("user") as client:
        handle = client.submit("acme", "batched", PAYLOAD)
        before = world.count()
        states = client.record(
            [
                Start(handle=handle, server="srv1", total_size=2),
                UpdateProgress(handle=handle, percent=50, message="half"),
                LogDetail(handle=handle, log_type="UploadSuccess", message="a.jpg"),
                LogDetail(handle=handle, log_type="UploadError", message="b.jpg"),
                Complete(handle=handle, message="done"),
            ]
        )
        assert [state.state for state in states if isinstance(state, Job)] == [
            "Running",
            "Running",
            "Running",
            "Running",
            "Done",
        ]
        assert world.count() == before + 5
        with JobLedger(world.db, create=False) as ledger:
            assert states[-1] == ledger.get(handle)  # every field, as the ledger has it
            assert ledger.get_job(handle).outcome == "errors"


def test_record_is_all_or_none(world: World) -> None:
    with world.client("user") as client:
        handle = client.submit("acme", "all-or-none", PAYLOAD)
        before = world.count()
        with pytest.raises(InvalidTransitionError):
            client.record(
                [
                    Start(handle=handle, server="srv1"),
                    Complete(handle=handle),
                    UpdateProgress(handle=handle, percent=10),  # Done already: breaks the rule
                ]
            )
        assert world.count() == before
        assert client.get_job(handle).state == "New"


def test_record_each_commits_what_keeps_the_rules_and_says_why_the_rest_failed(world: World) -> None:
    with world.client("user") as client:
        handle = client.submit("acme", "each", PAYLOAD)
        before = world.count()
        outcomes, positions, replayed = client.record_each(
            [
                Start(handle=handle, server="srv1"),
                Start(handle=handle, server="srv2"),  # already running: fails alone
                UpdateProgress(handle=handle, percent=101),  # breaks a rule: fails alone
                Submit(company="acme", name="each-2", payload=PAYLOAD, idempotency_key="each-k"),
                Submit(company="acme", name="each-2", payload=PAYLOAD, idempotency_key="each-k"),
                UpdateProgress(handle="acme||nope", percent=5),
                LogDetail(handle=handle, log_type="UploadSuccess", message="x" * 100_000),  # too long
            ]
        )
        assert isinstance(outcomes[0], Job) and outcomes[0].state == "Running"
        assert isinstance(outcomes[1], InvalidTransitionError)
        assert isinstance(outcomes[2], RuleError) and "between 0 and 100" in str(outcomes[2])
        assert isinstance(outcomes[3], Job) and isinstance(outcomes[4], Job)
        assert outcomes[3].jobHandle == outcomes[4].jobHandle and replayed[3:5] == [False, True]
        assert isinstance(outcomes[5], UnknownHandleError)
        assert isinstance(outcomes[6], InvalidFieldError)  # refused in the client, not sent
        assert positions[1] == positions[2] == positions[5] == positions[6] == 0 and positions[0] > before
        assert world.count() == before + 3  # the start, the submit and its idempotency key


def test_a_batch_may_not_reach_another_company_or_beyond_its_role(world: World) -> None:
    with world.client("user") as client:
        handle = client.submit("acme", "not-for-globex", PAYLOAD)
    before = world.count()
    with world.client("globex") as other, pytest.raises(UnknownHandleError):
        other.record([Start(handle=handle, server="srv1")])
    with world.client("reader") as reader, pytest.raises(AccessDeniedError):
        reader.record([Start(handle=handle, server="srv1")])
    status, answer = world.post(
        "globex",
        {"commands": [{"action": "submit", "body": {"companyHandle": "acme", "jobName": "x", **BODY}}]},
    )
    assert status == 403 and "command 1 (submit)" in str(answer)
    status, answer = world.post("user", {"commands": [{"action": "delete", "jobHandle": handle}]})
    assert status == 403 and "command 1 (delete)" in str(answer)
    assert world.count() == before


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"commands": []}, 400, "invalid body"),
        ({"commands": [{"action": "launch", "jobHandle": "acme||x"}]}, 400, "no action 'launch'"),
        ({"commands": [{"action": "start"}]}, 400, "jobHandle is required"),
        (
            {"commands": [{"action": "start", "jobHandle": "acme||x", "body": {"serverName": 5}}]},
            400,
            "invalid body of command 1 (start)",
        ),
        (
            {"commands": [{"action": "submit", "body": {"companyHandle": "acme", "jobName": "x"}}]},
            400,
            "exactly one payload",
        ),
        ({"commands": [{"action": "start", "jobHandle": "acme||x"}], "extra": 1}, 400, "invalid body"),
        ({"commands": [{"action": "start", "jobHandle": "acme||x", "body": {}}] * 1001}, 413, "at most 1000"),
    ],
)
def test_a_bad_batch_is_one_clear_error_and_appends_nothing(
    world: World, body: object, status: int, says: str
) -> None:
    before = world.count()
    got, answer = world.post("admin", body)
    assert got == status and says in str(answer["error"]), answer
    assert world.count() == before


def test_the_client_refuses_a_fire_and_sends_nothing(world: World) -> None:
    before = world.count()
    with world.client("admin") as client, pytest.raises(Exception, match="scheduler"):
        client.record([Fire(handle="acme|daily|")])
    assert world.count() == before


def test_the_raw_api_answers_states_and_results(world: World) -> None:
    status, answer = world.post(
        "user",
        {
            "atomic": False,
            "commands": [
                {"action": "submit", "body": {"companyHandle": "acme", "jobName": "raw", **BODY}},
                {"action": "stop", "jobHandle": "acme||nope"},
            ],
        },
    )
    assert status == 200
    results = answer["results"]
    assert isinstance(results, list)
    assert results[0]["status"] == 200 and results[0]["state"]["state"] == "New"
    assert results[1]["status"] == 404 and results[1]["error"]["code"] == "not_found"
    handle = results[0]["state"]["jobHandle"]
    code, state = world.server.call(
        "GET", job_path(handle), headers={"authorization": f"Bearer {world.tokens['user']}"}
    )
    assert code == 200 and state["job"]["jobHandle"] == handle


def metric(world: World, name: str) -> float:
    status, text = world.server.call(
        "GET", "/metrics", headers={"authorization": f"Bearer {world.tokens['admin']}"}
    )
    assert status == 200
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


def test_an_all_or_none_batch_is_counted_in_the_commands_metrics_and_positions_never_go_back(
    world: World,
) -> None:
    with world.client("user") as client:
        handle = client.submit("acme", "counted", PAYLOAD)
        ok = 'jobledger_commands_total{kind="UpdateProgress",result="ok"}'
        refused = 'jobledger_commands_total{kind="UpdateProgress",result="refused"}'
        before_ok, before_refused = metric(world, ok), metric(world, refused)
        client.record(
            [Start(handle=handle, server="srv1")]
            + [UpdateProgress(handle=handle, percent=p) for p in (10, 20, 30)]
        )
        with pytest.raises(InvalidTransitionError):
            client.record([Complete(handle=handle), UpdateProgress(handle=handle, percent=40)])
        assert metric(world, ok) == before_ok + 3
        assert metric(world, refused) == before_refused + 1
    status, answer = world.post(
        "admin",
        {"atomic": False, "commands": [{"action": "stop", "jobHandle": "acme||nothing"}]},
    )
    assert status == 200 and answer["position"] >= world.count()


def test_a_batch_with_an_idempotency_key_header_is_refused_and_each_submit_takes_its_own(
    world: World,
) -> None:
    before = world.count()
    submit = {"action": "submit", "body": {"companyHandle": "acme", "jobName": "keyed", **BODY}}
    status, answer = world.server.call(
        "POST",
        "/v1/batch",
        {"commands": [submit]},
        headers={"authorization": f"Bearer {world.tokens['user']}", "idempotency-key": "b1"},
    )
    assert status == 400 and "idempotencyKey" in answer["error"]["message"]
    assert world.count() == before
    keyed = {**submit, "idempotencyKey": "b1"}
    first = world.post("user", {"commands": [keyed]})
    again = world.post("user", {"commands": [keyed]})
    assert first[0] == again[0] == 200
    assert first[1]["states"][0]["jobHandle"] == again[1]["states"][0]["jobHandle"]
