"""Changes under /v1 are answered directly (server/direct.py), not through uvicorn's request cycle:
the HTTP/1.1 they speak must still be whole. Raw sockets against a real server."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_support import Served, serving

SUBMIT = {"companyHandle": "acme", "jobName": "nightly", "optimizeImagesJob": {"emailSetting": "All"}}
BODY = json.dumps(SUBMIT).encode()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    db = str(Path(tmp_path_factory.mktemp("direct")) / "ledger.db")
    with serving(db) as server:
        yield server


def connect(served: Served) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    return sock


def post(path: str, body: bytes, *extra: str, version: str = "1.1") -> bytes:
    lines = [
        f"POST {path} HTTP/{version}",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_answer(sock: socket.socket, buffer: bytearray) -> tuple[int, dict[str, str], Any]:
    """One answer from the socket (status, headers, JSON body); what follows stays in `buffer`."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an answer: {bytes(buffer)!r}")
        buffer += chunk
    head, _, _ = bytes(buffer).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    size = int(headers["content-length"])
    start = len(head) + 4
    while len(buffer) < start + size:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the middle of a body")
        buffer += chunk
    body = bytes(buffer[start : start + size])
    del buffer[: start + size]
    return int(status_line.split()[1]), headers, json.loads(body)


def closed(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def events(served: Served) -> int:
    return int(served.call("GET", "/v1/position")[1]["position"])


def test_pipelined_requests_are_answered_in_order_on_one_connection(served: Served) -> None:
    sock = connect(served)
    buffer = bytearray()
    query = b"GET /v1/position HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    sock.sendall(
        post("/v1/jobs", BODY)
        + query
        + post("/v1/jobs/acme%7C%7Cnothing/start", b'{"serverName": "s"}')
        + query
    )
    first = read_answer(sock, buffer)
    second = read_answer(sock, buffer)
    third = read_answer(sock, buffer)
    fourth = read_answer(sock, buffer)
    assert first[0] == 201 and first[1]["content-type"] == "application/json"
    assert second[0] == 200 and second[2]["position"] >= first[2]["position"]
    assert third[0] == 404 and third[2]["error"]["code"] == "not_found"
    assert fourth[0] == 200 and fourth[2]["position"] == second[2]["position"]
    sock.sendall(post("/v1/jobs", BODY))  # the connection goes on
    assert read_answer(sock, buffer)[0] == 201
    sock.close()


def test_connection_close_and_http_1_0_are_answered_then_closed(served: Served) -> None:
    for request in (
        post("/v1/jobs", BODY, "Connection: close"),
        post("/v1/jobs", BODY, version="1.0"),
    ):
        sock = connect(served)
        sock.sendall(request)
        status, headers, answer = read_answer(sock, bytearray())
        assert status == 201 and answer["jobHandle"].startswith("acme||nightly")
        assert headers.get("connection") == "close"
        assert closed(sock)
        sock.close()


def test_a_body_sent_in_pieces_and_one_that_waits_for_100_continue_are_taken_whole(served: Served) -> None:
    sock = connect(served)
    request = post("/v1/jobs", BODY)
    for start in range(0, len(request), 7):
        sock.sendall(request[start : start + 7])
        time.sleep(0.001)
    assert read_answer(sock, bytearray())[0] == 201
    sock.close()
    sock = connect(served)
    head, _, body = post("/v1/jobs", BODY, "Expect: 100-continue").partition(b"\r\n\r\n")
    sock.sendall(head + b"\r\n\r\n")
    assert sock.recv(1024).startswith(b"HTTP/1.1 100")
    sock.sendall(body)
    assert read_answer(sock, bytearray())[0] == 201
    sock.close()


def test_a_chunked_body_over_the_limit_is_refused_with_413_and_nothing_appended(served: Served) -> None:
    before = events(served)
    sock = connect(served)
    head = b"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    piece = b"x" * (1024 * 1024)
    sock.sendall(head)
    for _ in range(9):
        sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
    sock.sendall(b"0\r\n\r\n")
    status, _, answer = read_answer(sock, bytearray())
    assert status == 413 and answer["error"]["code"] == "too_large"
    sock.close()
    assert events(served) == before


def test_a_body_declared_over_the_limit_is_refused_before_it_comes(served: Served) -> None:
    before = events(served)
    sock = connect(served)
    sock.settimeout(5)  # (a direct answer would wait for the 99 MB first)
    sock.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999\r\n\r\n{}")
    status, _, answer = read_answer(sock, bytearray())
    assert status == 413 and answer["error"]["code"] == "too_large"
    sock.close()
    assert events(served) == before


def test_a_client_that_goes_away_before_its_answer_leaves_the_server_serving(served: Served) -> None:
    for _ in range(20):
        sock = connect(served)
        sock.sendall(post("/v1/jobs", BODY))
        sock.close()
    status, answer = served.call("POST", "/v1/jobs", SUBMIT)
    assert status == 201
    # Each command taken is either committed or not, never half: the runs it made are whole.
    status, active = served.call(
        "GET", f"/v1/active-jobs?includeWaitingJobs=true&minPosition={answer['position']}"
    )
    assert status == 200 and all(
        row["jobHandle"].startswith("acme||nightly") for row in active["activeJobArray"]
    )


def test_a_bad_request_line_is_refused_without_touching_the_ledger(served: Served) -> None:
    before = events(served)
    sock = connect(served)
    sock.sendall(b"POST /v1/jobs HTTP/1.1\r\nContent-Length: nope\r\n\r\n{}")
    reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 400")
    sock.close()
    assert events(served) == before
