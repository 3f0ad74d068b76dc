"""Tokens and roles on a real server, where a review found them wanting: revoking an IpsAdmin
token, token events in the event stream, a revoked token's open stream, another company's run in
the events' filter.

One server (with tokens) serves the module; two companies each have a run."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import server_support
from auth_support import AuthWorld
from click.testing import CliRunner
from server_support import job_path

from jobledger.cli.main import cli
from jobledger.service.ledger import JobLedger

TOKEN_EVENTS = {"TokenIssued", "TokenRevoked"}


class World(AuthWorld):
    """The served ledger, a token per (company, role), and each company's run."""

    def events(self, who: str, query: str = "") -> tuple[int, list[dict[str, Any]]]:
        """GET /v1/events as NDJSON: the status and the records."""
        status, body = self.call(who, "GET", f"/v1/events{query}")
        return status, [json.loads(line) for line in body.splitlines()] if status == 200 else []

    def progress(self, company: str, percent: int) -> int:
        """Report progress on the company's run; the position of its event."""
        status, answer = self.call(
            f"{company}-user", "POST", job_path(self.runs[company], "progress"), {"progress": percent}
        )
        assert status == 200, answer
        return int(answer["position"])

    def host_token(self, company: str, role: str) -> tuple[str, str]:
        """A token issued on the ledger's host (not through the API): its id and secret."""
        with JobLedger(self.server.db, create=False) as ledger:
            issued = ledger.create_token(company, role)
        self.tokens[issued.token.tokenId] = issued.secret
        return issued.token.tokenId, issued.secret


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with World.serving(tmp_path_factory.mktemp("auth-fixes"), "s") as world:
        yield world


# --- an SSE client that reads a stream to its end ------------------------------------------------


def open_sse(world: World, who: str, query: str = "", last_id: int | None = None) -> socket.socket:
    return server_support.open_sse(world.server, query, last_id, world.tokens[who])


class Stream:
    """What an SSE socket has sent: its status, its events (id, event, data), and whether the
    response ended (its last chunk came, or it was not a stream)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.raw = b""  # what came, not yet taken apart
        self.body = b""  # the stream's text, out of its chunks, not yet parsed
        self.status = 0
        self.events: list[dict[str, Any]] = []
        self.ended = False

    def read(self, *, until: int | None = None, want: int | None = None, timeout: float = 5) -> Stream:
        """Read until an event with id `until` (or `want` events in all) came, the response ended,
        or `timeout` seconds passed."""
        deadline = time.monotonic() + timeout
        while not self.ended and not self._enough(until, want):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                break
            self.ended = not chunk
            self.raw += chunk
            self._parse()
        return self

    def _enough(self, until: int | None, want: int | None) -> bool:
        return (until is not None and any(e["id"] >= until for e in self.events)) or (
            want is not None and len(self.events) >= want
        )

    def _parse(self) -> None:
        if not self.status and b"\r\n\r\n" in self.raw:
            head, self.raw = self.raw.split(b"\r\n\r\n", 1)
            self.status = int(head.split()[1])
            self.ended = self.status != 200
        while self.status == 200 and b"\r\n" in self.raw:  # chunked: a size line, then the chunk
            size_line, rest = self.raw.split(b"\r\n", 1)
            size = int(size_line, 16)
            if len(rest) < size + 2:
                break
            self.body, self.raw = self.body + rest[:size], rest[size + 2 :]
            self.ended = self.ended or size == 0
        while b"\n\n" in self.body:
            block, self.body = self.body.split(b"\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.decode().splitlines() if ": " in line)
            if "id" in fields:
                self.events.append(
                    {"id": int(fields["id"]), "event": fields["event"], "data": json.loads(fields["data"])}
                )


# --- 1. a company admin may not revoke an IpsAdmin token ------------------------------------------


def test_a_company_admin_may_not_revoke_an_ipsadmin_token_of_its_company(world: World) -> None:
    token_id, _ = world.host_token("acme", "IpsAdmin")
    before = world.count()
    status, answer = world.call("acme-cadmin", "DELETE", f"/v1/tokens/{token_id}")
    assert status == 403 and answer["error"]["code"] == "forbidden"
    assert "IpsAdmin" in answer["error"]["message"]
    assert world.count() == before
    assert world.call(token_id, "GET", "/v1/audit/digest")[0] == 200  # it still works
    status, revoked = world.call("admin", "DELETE", f"/v1/tokens/{token_id}")
    assert status == 200 and revoked["revoked"]


def test_tokens_revoke_through_the_server_refuses_a_company_admin_an_ipsadmin_token(world: World) -> None:
    token_id, _ = world.host_token("acme", "IpsAdmin")
    before = world.count()
    url = f"http://127.0.0.1:{world.server.port}"
    result = CliRunner().invoke(
        cli, ["--server", url, "--token", world.tokens["acme-cadmin"], "tokens", "revoke", token_id]
    )
    assert result.exit_code == 1 and "IpsAdmin" in result.output and result.output.count("\n") == 1
    assert world.count() == before
    assert world.call(token_id, "GET", "/v1/audit/digest")[0] == 200


def test_a_company_admin_still_revokes_its_companys_other_tokens(world: World) -> None:
    for role in ("IpsCompanyAdmin", "IpsUser", "ReadOnly"):
        token_id, _ = world.host_token("acme", role)
        status, revoked = world.call("acme-cadmin", "DELETE", f"/v1/tokens/{token_id}")
        assert status == 200 and revoked["revoked"], revoked


# --- 2. token events only for the roles that may list tokens ---------------------------------------


@pytest.mark.parametrize("who", ["acme-reader", "acme-user"])
def test_token_events_are_not_in_the_ndjson_of_a_role_that_may_not_list_tokens(
    world: World, who: str
) -> None:
    world.call("acme-cadmin", "POST", "/v1/tokens", {"companyHandle": "acme", "role": "ReadOnly"})
    world.progress("acme", 10)
    assert world.call(who, "GET", "/v1/tokens")[0] == 403
    status, seen = world.events(who)
    assert status == 200 and seen and not {record["event"] for record in seen} & TOKEN_EVENTS
    assert world.events(who, "?name=TokenIssued,TokenRevoked") == (200, [])
    assert world.events(who, "?name=TokenIssued&companyHandle=acme") == (200, [])
    # The positions they skip are passed over: a later job event is there after any of them.
    _, everything = world.events("acme-cadmin")
    token_positions = [record["position"] for record in everything if record["event"] in TOKEN_EVENTS]
    last = everything[-1]["position"]
    assert token_positions and everything[-1]["event"] == "ProgressUpdated"
    for position in token_positions:
        _, after = world.events(who, f"?after={position - 1}")
        assert after and after[-1]["position"] == last
        assert not {record["event"] for record in after} & TOKEN_EVENTS


@pytest.mark.parametrize(("who", "company"), [("acme-cadmin", {"acme"}), ("admin", {"acme", "globex"})])
def test_roles_that_list_tokens_see_token_events(world: World, who: str, company: set[str]) -> None:
    _, seen = world.events(who, "?name=TokenIssued")
    assert seen and {record["companyHandle"] for record in seen} == company


@pytest.mark.parametrize(("who", "seen"), [("acme-reader", False), ("acme-user", False), ("admin", True)])
def test_the_dashboards_audit_page_shows_token_events_only_to_roles_that_list_tokens(
    world: World, who: str, seen: bool
) -> None:
    headers = {"cookie": f"jobledger_session={world.tokens[who]}"}
    status, page = world.server.call(
        "GET", "/audit?company=acme" if who == "admin" else "/audit", headers=headers
    )
    assert status == 200
    assert (">token:" in page) is seen  # a token event's handle, as the page links it


@pytest.mark.parametrize("who", ["acme-reader", "acme-user"])
def test_token_events_are_not_in_the_sse_stream_of_a_role_that_may_not_list_tokens(
    world: World, who: str
) -> None:
    _, everything = world.events("acme-cadmin")
    last = everything[-1]["position"]
    with open_sse(world, who, "?after=0") as sock:
        stream = Stream(sock).read(until=last)
        assert stream.status == 200 and stream.events[-1]["id"] == last
        # Live: a token issued (hidden) and then a job event, which comes next.
        world.call("acme-cadmin", "POST", "/v1/tokens", {"companyHandle": "acme", "role": "ReadOnly"})
        position = world.progress("acme", 20)
        stream.read(until=position)
        assert stream.events[-1]["id"] == position
    assert not {event["event"] for event in stream.events} & TOKEN_EVENTS
    # Resuming from an id just before the hidden token event goes on past it.
    with open_sse(world, who, "", last_id=position - 2) as sock:
        resumed = Stream(sock).read(want=1)
    assert [event["id"] for event in resumed.events] == [position]


def test_a_company_admins_sse_stream_has_its_token_events(world: World) -> None:
    _, before = world.events("admin")
    with open_sse(world, "acme-cadmin", f"?after={before[-1]['position']}") as sock:
        made = world.call("acme-cadmin", "POST", "/v1/tokens", {"companyHandle": "acme", "role": "ReadOnly"})
        assert made[0] == 201
        stream = Stream(sock).read(want=1)
    assert [event["event"] for event in stream.events] == ["TokenIssued"]


# --- 3. a revoked token's open stream ends ----------------------------------------------------------


def head(world: World) -> int:
    return int(world.call("admin", "GET", "/v1/position")[1]["position"])


def test_an_open_stream_ends_within_a_second_of_its_token_revoked_on_the_host(world: World) -> None:
    token_id, _ = world.host_token("acme", "ReadOnly")
    with open_sse(world, token_id, f"?after={head(world)}") as sock:
        stream = Stream(sock).read(timeout=0.5)
        assert stream.status == 200 and not stream.ended
        result = CliRunner().invoke(cli, ["--db", world.server.db, "tokens", "revoke", token_id])
        assert result.exit_code == 0, result.output
        revoked = time.monotonic()
        stream.read(timeout=5)
        assert stream.ended and time.monotonic() - revoked < 1.5
    assert stream.events == []


def test_an_open_stream_delivers_nothing_committed_after_its_token_was_revoked(world: World) -> None:
    token_id, _ = world.host_token("acme", "ReadOnly")
    with open_sse(world, token_id, f"?after={head(world)}") as sock:
        stream = Stream(sock).read(timeout=0.5)
        before = world.progress("acme", 30)
        stream.read(until=before)
        assert [event["id"] for event in stream.events] == [before]
        result = CliRunner().invoke(cli, ["--db", world.server.db, "tokens", "revoke", token_id])
        assert result.exit_code == 0, result.output
        after = world.progress("acme", 40)  # committed after the revocation, at once
        stream.read(timeout=5)
        assert stream.ended
    assert [event["id"] for event in stream.events] == [before] and after > before


def test_an_open_stream_ends_at_once_when_its_token_is_revoked_through_the_api(world: World) -> None:
    token_id, _ = world.host_token("acme", "IpsUser")
    with open_sse(world, token_id, f"?after={head(world)}") as sock:
        stream = Stream(sock).read(timeout=0.5)
        assert world.call("acme-cadmin", "DELETE", f"/v1/tokens/{token_id}")[0] == 200
        world.progress("acme", 50)
        stream.read(timeout=5)
        assert stream.ended
    assert stream.events == []


def test_a_revoked_token_opening_a_stream_is_401(world: World) -> None:
    token_id, _ = world.host_token("acme", "ReadOnly")
    assert world.call("acme-cadmin", "DELETE", f"/v1/tokens/{token_id}")[0] == 200
    with open_sse(world, token_id, "?after=0") as sock:
        stream = Stream(sock).read(timeout=5)
    assert stream.status == 401 and stream.events == []


# --- 4. another company's run in the events' filter ---------------------------------------------------


@pytest.mark.parametrize("who", ["acme-reader", "acme-user", "acme-cadmin"])
def test_another_companys_run_is_404_to_the_events_filter(world: World, who: str) -> None:
    own, other = (quote(world.runs[company], safe="") for company in ("acme", "globex"))
    status, seen = world.events(who, f"?jobHandle={own}")
    assert status == 200 and {record["handle"] for record in seen} == {world.runs["acme"]}
    for handle in (other, quote("acme||no-such-run", safe="")):
        status, answer = world.call(who, "GET", f"/v1/events?jobHandle={handle}")
        assert status == 404 and answer["error"]["code"] == "not_found"
        with open_sse(world, who, f"?jobHandle={handle}") as sock:
            stream = Stream(sock).read(timeout=5)
        assert stream.status == 404 and stream.events == []


def test_an_admin_reads_any_companys_run_in_the_events_filter(world: World) -> None:
    handle = world.runs["globex"]
    status, seen = world.events("admin", f"?jobHandle={quote(handle, safe='')}")
    assert status == 200 and {record["handle"] for record in seen} == {handle}
