"""Tokens and roles on a real server: who may call what, and a company that sees only its own.

One server (with tokens) serves the module; two companies each have a run and a schedule."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from auth_support import COMPANIES, PAYLOAD, AuthWorld
from click.testing import CliRunner
from server_support import Served, job_path

from jobledger.cli.main import cli
from jobledger.service.ledger import JobLedger


class World(AuthWorld):
    """The served ledger, a token per (company, role), and each company's run and schedule."""

    def __init__(self, server: Served, tokens: dict[str, str]) -> None:
        super().__init__(server, tokens)
        self.schedules: dict[str, str] = {}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with World.serving(tmp_path_factory.mktemp("auth"), "s1") as world:
        for company in COMPANIES:
            status, schedule = world.call(
                f"{company}-user",
                "POST",
                "/v1/jobs",
                {"companyHandle": company, "jobName": "daily", "execSchedule": "0 0 3 * * ? 2070", **PAYLOAD},
            )
            assert status == 201, schedule
            world.schedules[company] = schedule["jobHandle"]
        yield world


OPEN_PATHS = ["/healthz", "/readyz", "/v1/openapi.json", "/v1/docs"]
READS = [
    "/v1/active-jobs",
    "/v1/scheduled-jobs",
    "/v1/job-logs",
    "/v1/events",
]


@pytest.mark.parametrize("path", OPEN_PATHS)
def test_health_and_the_api_description_need_no_token(world: World, path: str) -> None:
    assert world.call(None, "GET", path)[0] == 200


@pytest.mark.parametrize("path", [*READS, "/metrics", "/v1/tokens"])
@pytest.mark.parametrize("header", [None, "Bearer ", "Bearer jlt_0000_nope", "Basic YWxhZGRpbjpvcGVu"])
def test_a_request_without_a_valid_token_is_401_with_a_challenge(
    world: World, path: str, header: str | None
) -> None:
    conn = world.server.connection()
    try:
        conn.request("GET", path, headers={"authorization": header} if header else {})
        response = conn.getresponse()
        body = json.loads(response.read())
    finally:
        conn.close()
    assert response.status == 401
    assert response.getheader("www-authenticate", "").startswith("Bearer")
    assert body["error"]["code"] == "unauthorized"


def test_a_command_without_a_token_appends_nothing(world: World) -> None:
    before = world.count()
    body = {"companyHandle": "acme", "jobName": "x", **PAYLOAD}
    assert world.call(None, "POST", "/v1/jobs", body)[0] == 401
    assert world.call(None, "POST", job_path(world.runs["acme"], "progress"), {"progress": 5})[0] == 401
    assert world.count() == before


@pytest.mark.parametrize("who", ["acme-reader", "acme-user", "acme-cadmin"])
@pytest.mark.parametrize("path", READS)
def test_a_company_token_reads_only_its_company(world: World, who: str, path: str) -> None:
    status, body = world.call(who, "GET", path)
    assert status == 200
    rows = (
        [json.loads(line) for line in body.splitlines()]
        if isinstance(body, str)
        else next(value for key, value in body.items() if key.endswith("Array"))
    )
    assert rows and {row["companyHandle"] for row in rows} == {"acme"}
    assert world.call(who, "GET", f"{path}?companyHandle=globex")[0] == 404


def test_an_admin_reads_every_company(world: World) -> None:
    status, body = world.call("admin", "GET", "/v1/active-jobs")
    assert status == 200 and {row["companyHandle"] for row in body["activeJobArray"]} == {"acme", "globex"}
    status, body = world.call("admin", "GET", "/v1/active-jobs?companyHandle=globex")
    assert {row["companyHandle"] for row in body["activeJobArray"]} == {"globex"}


@pytest.mark.parametrize("who", ["acme-reader", "acme-user", "acme-cadmin"])
@pytest.mark.parametrize("action", ["", "history", "log-details"])
def test_another_companys_run_is_404_to_every_read(world: World, who: str, action: str) -> None:
    assert world.call(who, "GET", job_path(world.runs["acme"], action))[0] == 200
    status, body = world.call(who, "GET", job_path(world.runs["globex"], action))
    assert status == 404 and body["error"]["code"] == "not_found"


def test_another_companys_assets_and_events_are_not_seen(world: World) -> None:
    assert world.call("acme-reader", "GET", "/v1/assets/a1/job-logs?companyHandle=globex")[0] == 404
    status, body = world.call("acme-reader", "GET", "/v1/assets/a1/job-logs")
    assert status == 200 and body["assetJobLogArray"] == []
    assert world.call("acme-reader", "GET", "/v1/events?companyHandle=globex")[0] == 404


DRIVING = [
    ("start", {"serverName": "s2"}),
    ("progress", {"progress": 10}),
    ("log", {"logType": "UploadSuccess", "logMessage": "f"}),
    ("log", [{"logType": "UploadSuccess", "logMessage": "f"}]),
    ("complete", {}),
    ("stop", {}),
]
MANAGING = ["pause", "resume", "execute", "delete"]


@pytest.mark.parametrize(("action", "body"), DRIVING)
def test_another_companys_run_is_404_to_every_command_and_unchanged(
    world: World, action: str, body: Any
) -> None:
    before = world.count()
    status, answer = world.call("acme-cadmin", "POST", job_path(world.runs["globex"], action), body)
    assert status == 404 and answer["error"]["code"] == "not_found"
    assert world.count() == before


@pytest.mark.parametrize("action", MANAGING)
def test_another_companys_schedule_is_404_to_every_change(world: World, action: str) -> None:
    before = world.count()
    handle = world.schedules["globex"]
    method, path = ("DELETE", job_path(handle)) if action == "delete" else ("POST", job_path(handle, action))
    assert world.call("acme-cadmin", method, path, {})[0] == 404
    assert world.count() == before


def test_a_company_token_cannot_submit_for_another_company(world: World) -> None:
    before = world.count()
    body = {"companyHandle": "globex", "jobName": "sneaky", **PAYLOAD}
    status, answer = world.call("acme-user", "POST", "/v1/jobs", body)
    assert status == 403 and "acme" in answer["error"]["message"]
    assert world.count() == before


@pytest.mark.parametrize(("action", "body"), [*DRIVING[:2], ("submit", None)])
def test_a_read_only_token_may_not_change_anything(world: World, action: str, body: Any) -> None:
    before = world.count()
    if action == "submit":
        status, answer = world.call(
            "acme-reader", "POST", "/v1/jobs", {"companyHandle": "acme", "jobName": "r", **PAYLOAD}
        )
    else:
        status, answer = world.call("acme-reader", "POST", job_path(world.runs["acme"], action), body)
    assert status == 403 and "ReadOnly" in answer["error"]["message"]
    assert world.count() == before


@pytest.mark.parametrize("action", MANAGING)
def test_a_user_token_may_not_manage_schedules_or_delete(world: World, action: str) -> None:
    handle = world.schedules["acme"]
    method, path = ("DELETE", job_path(handle)) if action == "delete" else ("POST", job_path(handle, action))
    status, answer = world.call("acme-user", method, path, {})
    asked = "delete jobs" if action == "delete" else f"{action} schedules"  # what was asked, no more
    assert status == 403 and answer["error"]["message"] == f"an IpsUser token may not {asked}"


def test_a_company_admin_manages_its_schedules(world: World) -> None:
    handle = world.schedules["acme"]
    status, paused = world.call("acme-cadmin", "POST", job_path(handle, "pause"), {})
    assert status == 200 and paused["state"]["triggerState"] == "Paused"
    assert world.call("acme-cadmin", "POST", job_path(handle, "resume"), {})[0] == 200


@pytest.mark.parametrize("who", ["acme-cadmin", "acme-user", "acme-reader"])
def test_the_digest_needs_the_servers_admin(world: World, who: str) -> None:
    assert world.call(who, "GET", "/v1/audit/digest")[0] == 403
    assert world.call("admin", "GET", "/v1/audit/digest")[0] == 200


@pytest.mark.parametrize("who", ["acme-user", "acme-reader"])
def test_metrics_need_an_admin(world: World, who: str) -> None:
    status, answer = world.call(who, "GET", "/metrics")
    assert status == 403 and answer["error"]["message"].endswith("token may not read the metrics")


def test_a_company_admin_sees_its_companys_metrics_only(world: World) -> None:
    status, text = world.call("admin", "GET", "/metrics")
    assert status == 200 and "jobledger_commands_total" in text and "jobledger_group_commands" in text
    for company in ("acme", "globex"):
        status, text = world.call(f"{company}-cadmin", "GET", "/metrics")
        assert status == 200
        samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
        # Its one run is Running; the server's own figures and the other company's are not shown.
        assert samples['jobledger_company_active_runs{state="Running"}'] == "1.0"
        assert samples['jobledger_company_last_hour{what="started"}'] == "1.0"
        assert not any(
            name.startswith(("jobledger_commands", "jobledger_group", "jobledger_active")) for name in samples
        )


def test_a_company_admin_issues_and_revokes_its_companys_tokens(world: World) -> None:
    status, made = world.call(
        "acme-cadmin", "POST", "/v1/tokens", {"companyHandle": "acme", "role": "ReadOnly", "name": "bot"}
    )
    assert status == 201 and made["token"].startswith("jlt_") and made["role"] == "ReadOnly"
    world.tokens["bot"] = made["token"]
    assert world.call("bot", "GET", "/v1/active-jobs")[0] == 200
    status, listed = world.call("acme-cadmin", "GET", "/v1/tokens")
    assert status == 200 and {token["companyHandle"] for token in listed["tokenArray"]} == {"acme"}
    assert all("token" not in token and "tokenHash" not in token for token in listed["tokenArray"])
    assert world.call("globex-cadmin", "DELETE", f"/v1/tokens/{made['tokenId']}")[0] == 404
    status, revoked = world.call("acme-cadmin", "DELETE", f"/v1/tokens/{made['tokenId']}")
    assert status == 200 and revoked["revoked"]
    assert world.call("bot", "GET", "/v1/active-jobs")[0] == 401


@pytest.mark.parametrize(
    ("who", "body"),
    [
        ("acme-cadmin", {"companyHandle": "acme", "role": "IpsAdmin"}),
        ("acme-cadmin", {"companyHandle": "globex", "role": "IpsUser"}),
        ("acme-user", {"companyHandle": "acme", "role": "IpsUser"}),
        ("acme-reader", {"companyHandle": "acme", "role": "ReadOnly"}),
    ],
)
def test_tokens_beyond_the_callers_reach_are_refused(world: World, who: str, body: dict[str, str]) -> None:
    before = world.count()
    assert world.call(who, "POST", "/v1/tokens", body)[0] == 403
    assert world.count() == before


def test_a_bad_token_request_is_400(world: World) -> None:
    before = world.count()
    status, answer = world.call("admin", "POST", "/v1/tokens", {"companyHandle": "acme", "role": "Boss"})
    assert status == 400 and answer["error"]["code"] == "invalid_value"
    assert world.call("admin", "DELETE", "/v1/tokens/nope")[0] == 404
    assert world.count() == before


def test_a_token_revoked_on_the_ledgers_host_stops_working_within_a_second(world: World) -> None:
    with JobLedger(world.server.db, create=False) as ledger:
        issued = ledger.create_token("acme", "ReadOnly", name="temp")
    world.tokens["temp"] = issued.secret
    assert world.call("temp", "GET", "/v1/active-jobs")[0] == 200
    result = CliRunner().invoke(cli, ["--db", world.server.db, "tokens", "revoke", issued.token.tokenId])
    assert result.exit_code == 0, result.output
    time.sleep(1.1)
    assert world.call("temp", "GET", "/v1/active-jobs")[0] == 401


# --- the CLI's tokens commands -------------------------------------------------------------------


def test_tokens_create_prints_the_secret_once_and_list_never_shows_it(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    runner = CliRunner()
    made = runner.invoke(cli, ["--db", db, "tokens", "create", "--company", "acme", "--role", "IpsUser"])
    assert made.exit_code == 0
    secret = made.stdout.strip()
    assert secret.startswith("jlt_") and "not shown again" in made.stderr
    listed = runner.invoke(cli, ["--db", db, "tokens", "list", "--format", "json"])
    (token,) = json.loads(listed.stdout)
    assert token["role"] == "IpsUser" and token["companyHandle"] == "acme" and token["revoked"] is None
    assert token["issued"].endswith("Z") and datetime.fromisoformat(token["issued"]).tzinfo == UTC
    assert secret not in listed.stdout and secret not in Path(db).read_bytes().decode(errors="replace")
    assert runner.invoke(cli, ["--db", db, "tokens", "revoke", secret]).exit_code == 0
    assert json.loads(runner.invoke(cli, ["--db", db, "tokens", "list", "--format", "json"]).stdout) == []
    (gone,) = json.loads(
        runner.invoke(cli, ["--db", db, "tokens", "list", "--all", "--format", "json"]).stdout
    )
    assert gone["revoked"].endswith("Z") and gone["revoked"] >= gone["issued"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["create", "--company", "acme", "--role", "Boss"], 2, "Boss"),
        (["create", "--company", "", "--role", "IpsUser"], 1, "invalid company"),
        (["create", "--company", "a\nb", "--role", "IpsUser"], 1, "control characters"),
        (["revoke", "nope"], 1, "no token with id 'nope'"),
    ],
)
def test_bad_tokens_commands_are_one_line_and_change_nothing(
    tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    db = str(tmp_path / "ledger.db")
    with JobLedger(db) as ledger:
        ledger.create_token("acme", "ReadOnly")
        before = ledger.event_count()
    result = CliRunner().invoke(cli, ["--db", db, "tokens", *args])
    assert result.exit_code == code and message in result.output and result.output.count("\n") == 1
    with JobLedger(db, create=False) as ledger:
        assert ledger.event_count() == before


def test_the_python_api_refuses_a_bad_role_or_company_and_appends_nothing(tmp_path: Path) -> None:
    from jobledger.domain.errors import RuleError

    with JobLedger(str(tmp_path / "ledger.db")) as ledger:
        for company, role in (("acme", "root"), ("", "ReadOnly"), (42, "ReadOnly")):
            with pytest.raises(RuleError):
                ledger.create_token(company, role)  # type: ignore[arg-type]
        assert ledger.event_count() == 0 and not ledger.tokens().by_id
