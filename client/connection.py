"""One kept-alive HTTP connection to `jobledger serve`, and its error answers as ledger errors.

An error answer becomes the exception the ledger itself would have raised, with the same one-line
message, so a runner's `except` clauses and the CLI's output are the same against a server.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import msgspec

from jobledger.domain.errors import (
    ClockSkewError,
    IdempotencyConflictError,
    InvalidFieldError,
    LedgerError,
    RuleError,
    StoreError,
    UnknownHandleError,
)
from jobledger.domain.payloads import PayloadError

TIMEOUT_S = 60.0


class ServerError(StoreError):
    """The server cannot be reached, or answered what a jobledger server does not."""


class ServerUnavailableError(ServerError):
    """The server cannot be reached just now (refused, dropped, or a 502/503/504 answer to a
    stream): it may come back, unlike a refused token or an unknown handle."""


class AccessDeniedError(LedgerError):
    """The server refused the token (401) or what its role may do (403)."""


# The error codes of the server's answers (server/errors.py), back to the ledger's types.
_ERRORS: dict[str, type[LedgerError]] = {
    "not_found": UnknownHandleError,
    "invalid_field": InvalidFieldError,
    "too_large": InvalidFieldError,
    "clock_skew": ClockSkewError,
    "invalid_payload": PayloadError,
    "idempotency_conflict": IdempotencyConflictError,
    "rule_broken": RuleError,
    "unauthorized": AccessDeniedError,
    "forbidden": AccessDeniedError,
    "store_unavailable": StoreError,
    "shutting_down": ServerError,
    "views_behind": ServerError,
}
_RETRYABLE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
_UNAVAILABLE = (502, 503, 504)  # a proxy without its server, or a server stopping or starting


_NOT_THE_API = " (is the URL a jobledger server's, without a path?)"


def error_from(status: int, body: bytes) -> LedgerError:
    """The ledger error an error answer stands for, carrying its message."""
    try:
        detail = msgspec.json.decode(body)["error"]
        code, message = str(detail["code"]), str(detail["message"])
    except (msgspec.DecodeError, KeyError, TypeError):
        # Not a jobledger answer: a page (a proxy's, the dashboard's for a URL with a path) is
        # left out; other text is kept on one line, so that the error stays one line.
        text = " ".join(body[:200].decode(errors="replace").split())
        if not text or text.startswith("<"):
            return ServerError(f"the server answered {status}{_NOT_THE_API}")
        return ServerError(f"the server answered {status}: {text[:120]}")
    if code == "not_found" and message.startswith("no such path"):  # (a URL ending in /v1, say)
        return ServerError(f"the server answered {status}: {message}{_NOT_THE_API}")
    kind = _ledger_errors().get(str(detail.get("type")))
    if kind is None:
        kind = _ERRORS.get(code, RuleError if 400 <= status < 500 else ServerError)
    err = kind.__new__(kind)
    Exception.__init__(err, message)
    if isinstance(err, InvalidFieldError):
        err.field, _, err.problem = message.removeprefix("invalid ").partition(": ")
    details = detail.get("details")
    if isinstance(details, dict):
        err.__dict__.update(details)  # what the CLI's hints read (an error's state, action, ...)
    return err


def _ledger_errors() -> dict[str, type[LedgerError]]:
    """Every error class of the ledger, by name."""
    found: dict[str, type[LedgerError]] = {}
    waiting: list[type[LedgerError]] = [LedgerError]
    while waiting:
        cls = waiting.pop()
        found.setdefault(cls.__name__, cls)
        waiting.extend(cls.__subclasses__())
    return found


class Connection:
    """Requests on one HTTP/1.1 connection, opened again when the server closed an idle one."""

    def __init__(self, url: str, token: str | None, timeout: float = TIMEOUT_S) -> None:
        parts = urlsplit(url if "//" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServerError(f"not a server URL: {url!r} (expected http://host:port)")
        self.url = url
        self._prefix = parts.path.rstrip("/")
        self._host, self._port = parts.hostname, parts.port
        self._https = parts.scheme == "https"
        self._timeout = timeout
        self._headers = {"content-type": "application/json", "accept": "application/json"}
        if token:
            self._headers["authorization"] = f"Bearer {token}"
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()  # one request at a time on the connection

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """The status and body of an answer; an error answer raises its ledger error."""
        with self._lock:
            status, data = self._exchange(method, path, body, {**self._headers, **(headers or {})})
        if status >= 400:
            raise error_from(status, data)
        return status, data

    def json(self, method: str, path: str, value: Any = None, headers: dict[str, str] | None = None) -> Any:
        body = None if value is None else msgspec.json.encode(value)
        return msgspec.json.decode(self.request(method, path, body, headers)[1])

    def stream(self, path: str) -> EventStream:
        """A live SSE stream of `path`, on a connection of its own.

        The timeout holds for the stream too: the server sends a keepalive every 15 s, so a stream
        silent for longer has lost its server (it ends, as when the server ends it)."""
        conn = self._new_connection(self._timeout)
        try:
            conn.request("GET", self._prefix + path, headers={**self._headers, "accept": "text/event-stream"})
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as err:
            conn.close()
            raise ServerUnavailableError(f"cannot reach the server at {self.url}: {err}") from err
        if response.status >= 400:
            data = response.read()
            conn.close()
            error = error_from(response.status, data)
            if response.status in _UNAVAILABLE:
                raise ServerUnavailableError(str(error)) from error
            raise error
        return EventStream(conn, response)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _exchange(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        for attempt in (1, 2):
            reused = self._conn is not None
            conn = self._conn or self._connect()
            try:
                conn.request(method, self._prefix + path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except _RETRYABLE as err:
                # A kept-alive connection the server closed while it was idle: the request never
                # reached it, so sending it again on a new connection is safe.
                self._drop()
                if reused and attempt == 1:
                    continue
                raise ServerUnavailableError(f"cannot reach the server at {self.url}: {err}") from err
            except (OSError, http.client.HTTPException) as err:
                self._drop()
                raise ServerUnavailableError(f"cannot reach the server at {self.url}: {err}") from err
            if response.will_close:
                self._drop()
            return response.status, data
        raise AssertionError("unreachable")

    def _connect(self) -> http.client.HTTPConnection:
        self._conn = self._new_connection(self._timeout)
        return self._conn

    def _new_connection(self, timeout: float | None) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return kind(self._host, self._port, timeout=timeout)

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class EventStream:
    """An open SSE stream: each event's data as it comes. `close()` may be called from another
    thread, and ends the iteration."""

    def __init__(self, conn: http.client.HTTPConnection, response: http.client.HTTPResponse) -> None:
        self._conn = conn
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        """The data of each event (ids, names and comments are left out: the data says it all),
        until the server ends the stream or it is closed."""
        lines: list[bytes] = []
        while True:
            try:
                line = self._response.readline()
            except Exception:
                # Closed from another thread (http.client then fails in whatever it was doing:
                # an OSError, a ValueError on a cut chunk, an AttributeError on its gone file),
                # or the connection dropped: either way the stream has ended.
                return
            if not line:
                return
            line = line.rstrip(b"\r\n")
            if not line:
                if lines:
                    yield b"\n".join(lines)
                    lines = []
            elif line.startswith(b"data:"):
                lines.append(line[5:].removeprefix(b" "))

    def close(self) -> None:
        """End the stream (a reader blocked in it returns)."""
        sock = self._conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed by the server
                sock.shutdown(socket.SHUT_RDWR)
        self._conn.close()
