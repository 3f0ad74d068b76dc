"""A real `jobledger serve` process on a free port, and a small HTTP client for the tests."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jobledger.client import Client
from jobledger.server.wire import job_path
from jobledger.service.ledger import JobLedger

__all__ = ["Served", "free_port", "job_path", "open_sse", "read_sse", "served_pair", "serving"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """A running server and how to talk to it."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, db: str) -> None:
        self.process = process
        self.port = port
        self.db = db

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, Any]:
        """One request on a fresh connection; the status and the decoded JSON (or text)."""
        conn = self.connection()
        try:
            data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            conn.request(
                method, path, body=data, headers={"content-type": "application/json", **(headers or {})}
            )
            response = conn.getresponse()
            text = response.read()
        finally:
            conn.close()
        kind = response.getheader("content-type") or ""
        return response.status, json.loads(text) if "application/json" in kind else text.decode()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30, *, group: bool = False) -> int:
        """Signal the server (`group`: its whole process group, helpers included) and wait."""
        if self.process.poll() is None:
            if group:
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)
        return self.process.wait(timeout)


@contextmanager
def serving(
    db: str,
    views: str | None = None,
    *extra: str,
    auth: bool = False,
    store_after: bool = False,
    group: bool = False,
) -> Iterator[Served]:
    """Start `jobledger serve` on a free port (with --no-auth unless `auth`) and wait until it
    answers; stop it after. `store_after` gives --db and --views after `serve` instead of before;
    `group` starts it in a process group of its own (to signal the whole group, as systemd does)."""
    port = free_port()
    store = ["--db", db, *(("--views", views) if views else ())]
    args = [sys.executable, "-m", "jobledger.cli", *(() if store_after else store), "serve"]
    args += [*(store if store_after else ()), "--port", str(port), *extra, *(() if auth else ("--no-auth",))]
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ}, start_new_session=group
    )
    served = Served(process, port, db)
    deadline = time.monotonic() + 30
    try:
        while True:
            if process.poll() is not None:
                raise AssertionError(
                    f"serve exited: {process.stderr.read().decode() if process.stderr else ''}"
                )
            try:
                if served.call("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()


@contextmanager
def served_pair(db: str) -> Iterator[tuple[Client, JobLedger, Served, str]]:
    """A served ledger with an IpsAdmin token of acme: a client of the server, the same ledger
    opened in this process (to compare the two), the server and the token."""
    with JobLedger(db) as ledger:
        token = ledger.create_token("acme", "IpsAdmin").secret
    with (
        serving(db, auth=True) as server,
        Client(f"http://127.0.0.1:{server.port}", token) as client,
        JobLedger(db, create=False) as ledger,
    ):
        yield client, ledger, server, token


def read_sse(sock: socket.socket, want: int, timeout: float = 10) -> list[dict[str, Any]]:
    """Events (id, event, data) read from an SSE socket until `want` have come."""
    sock.settimeout(timeout)
    buffer = b""
    events: list[dict[str, Any]] = []
    while len(events) < want:
        chunk = sock.recv(65536)
        assert chunk, "the stream closed"
        buffer += chunk
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            fields = dict(
                line.split(": ", 1)
                for line in block.decode().splitlines()
                if ": " in line and not line.startswith(":")
            )
            if "id" in fields:
                events.append(
                    {"id": int(fields["id"]), "event": fields["event"], "data": json.loads(fields["data"])}
                )
    return events


def open_sse(
    served: Served, query: str = "", last_id: int | None = None, token: str | None = None
) -> socket.socket:
    """A live event stream (GET /v1/events as SSE) on a socket of its own."""
    sock = socket.create_connection(("127.0.0.1", served.port))
    resume = f"Last-Event-ID: {last_id}\r\n" if last_id is not None else ""
    bearer = f"Authorization: Bearer {token}\r\n" if token else ""
    head = f"GET /v1/events{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
    sock.sendall(f"{head}{resume}{bearer}\r\n".encode())
    return sock
