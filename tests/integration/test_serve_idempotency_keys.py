"""Idempotency keys over HTTP are the keys the runner meant: an empty one is refused as the ledger
refuses it, a key in UTF-8 is the same key from curl, from the client and on the file, and two
Idempotency-Key headers are refused rather than one of them chosen."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from samples import OPTIMIZE
from server_support import Served, served_pair

from jobledger.cli.main import cli
from jobledger.client import Client
from jobledger.domain.errors import InvalidValueError
from jobledger.domain.payloads import decode_payload
from jobledger.service import JobLedger

PAYLOAD = decode_payload("optimizeImagesJob", OPTIMIZE)
BODY = json.dumps({"companyHandle": "acme", "jobName": "keyed", "optimizeImagesJob": json.loads(OPTIMIZE)})


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Client, JobLedger, Served, str]]:
    with served_pair(str(tmp_path / "ledger.db")) as parts:
        yield parts


def post_raw(served: Served, token: str, headers: list[bytes]) -> tuple[int, dict[str, object]]:
    """POST /v1/jobs with these header lines as bytes (repeats and non-ASCII kept as they are)."""
    body = BODY.encode()
    request = b"\r\n".join(
        [
            b"POST /v1/jobs HTTP/1.1",
            b"Host: 127.0.0.1",
            b"Connection: close",
            b"Authorization: Bearer " + token.encode(),
            b"Content-Type: application/json",
            b"Content-Length: %d" % len(body),
            *headers,
            b"",
            body,
        ]
    )
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(rest)


def test_an_empty_key_is_refused_as_the_ledger_refuses_it(
    pair: tuple[Client, JobLedger, Served, str],
) -> None:
    client, ledger, served, token = pair
    before = ledger.event_count()
    status, answer = post_raw(served, token, [b"Idempotency-Key: "])
    assert status == 400 and answer["error"]["message"] == "idempotency key must not be empty"  # type: ignore[index]
    with pytest.raises(InvalidValueError) as remote:
        client.submit("acme", "keyed", PAYLOAD, idempotency_key="")
    with pytest.raises(InvalidValueError) as local:
        ledger.submit("acme", "keyed", PAYLOAD, idempotency_key="")
    assert str(remote.value) == str(local.value) == "idempotency key must not be empty"
    assert ledger.event_count() == before


def test_the_cli_through_a_server_refuses_an_empty_key_in_the_same_line(
    pair: tuple[Client, JobLedger, Served, str], tmp_path: Path
) -> None:
    _, _, served, token = pair
    args = ["submit", "--company", "acme", "--name", "k", "--type", "optimizeImagesJob"]
    args += ["--payload", OPTIMIZE, "--idempotency-key", ""]
    url = f"http://127.0.0.1:{served.port}"
    remote = CliRunner().invoke(cli, ["--server", url, "--token", token, *args])
    local = CliRunner().invoke(cli, ["--db", str(tmp_path / "other.db"), *args])
    assert (remote.exit_code, remote.stderr) == (local.exit_code, local.stderr) == (1, local.stderr)
    assert local.stderr.count("\n") == 1 and "must not be empty" in local.stderr


def test_a_key_in_utf8_is_one_key_from_curl_the_client_and_the_file(
    pair: tuple[Client, JobLedger, Served, str],
) -> None:
    client, ledger, served, token = pair
    status, first = post_raw(served, token, ["Idempotency-Key: clé-ü-☃".encode()])
    assert status == 201
    again = client.submit_job("acme", "keyed", PAYLOAD, idempotency_key="clé-ü-☃")
    assert again.replayed and again.handle == first["jobHandle"]
    on_file = ledger.submit_job("acme", "keyed", PAYLOAD, idempotency_key="clé-ü-☃")
    assert on_file.replayed and on_file.handle == first["jobHandle"]


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ([b"Idempotency-Key: a", b"Idempotency-Key: b"], "more than one Idempotency-Key"),
        ([b"Idempotency-Key: \xff\xfe"], "not UTF-8"),
    ],
)
def test_a_key_that_is_not_one_text_is_refused(
    pair: tuple[Client, JobLedger, Served, str], headers: list[bytes], says: str
) -> None:
    _, ledger, served, token = pair
    before = ledger.event_count()
    status, answer = post_raw(served, token, headers)
    assert status == 400 and says in answer["error"]["message"]  # type: ignore[index]
    assert ledger.event_count() == before
