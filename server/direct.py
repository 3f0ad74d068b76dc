"""Changes under /v1 answered without uvicorn's request cycle.

A runner's commands are small POSTs answered with one small JSON body, many thousands a second,
on the one core the server has. uvicorn's cycle for each (its scope with the app state, an
asyncio.Event, flow control, two ASGI messages turned into header lines and writes) cost about
as much as deciding and appending the command. Here a POST or DELETE under /v1 goes to the
LedgerApp as an ASGI call all the same (the same routes, checks and answers), but its body is
taken whole as it arrives, and its answer is written as one piece, status line and headers
made at once. Everything else (the pages, queries, the event stream) keeps uvicorn's cycle.
"""

from __future__ import annotations

from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from .errors import error_answer
from .http import MAX_BODY, Message, body_too_large, declared_size
from .protocol import GatheringProtocol

_CHANGES = (b"POST", b"DELETE")


class _Unused:
    """What uvicorn's protocol sets on a cycle's event when the connection goes: nothing waits."""

    def set(self) -> None:
        pass


_UNUSED = _Unused()


class DirectCycle:
    """One direct request: its body as it comes, then its one answer. It carries the attributes
    uvicorn's protocol reads of a cycle (`response_complete`, `keep_alive`, `disconnected`,
    `message_event`), so pipelining, a connection lost and a graceful stop treat it as their own."""

    __slots__ = (
        "_start",
        "chunks",
        "disconnected",
        "keep_alive",
        "message_event",
        "protocol",
        "response_complete",
        "scope",
        "size",
    )

    def __init__(self, protocol: DirectProtocol, scope: dict[str, Any], keep_alive: bool) -> None:
        self.protocol = protocol
        self.scope = scope
        self.chunks: list[bytes] = []
        self.size = 0
        self.keep_alive = keep_alive
        self.response_complete = False
        self.disconnected = False
        self.message_event = _UNUSED
        self._start: Message | None = None

    def add(self, chunk: bytes) -> None:
        """A piece of the body (kept only up to MAX_BODY: past it the answer is 413 anyway)."""
        self.size += len(chunk)
        if self.size <= MAX_BODY:
            self.chunks.append(chunk)

    async def receive(self) -> Message:
        """The whole body in one message (it has come before the app is called)."""
        if self.disconnected:
            return {"type": "http.disconnect"}
        body = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(self, message: Message) -> None:
        """The answer's start is kept; its body writes the whole answer at once."""
        if message["type"] == "http.response.start":
            self._start = message
            return
        if message["type"] != "http.response.body" or self._start is None or self.response_complete:
            return
        if message.get("more_body"):  # (no change is answered in pieces)
            raise RuntimeError("a direct answer is written whole")
        self.write(self._start["status"], self._start.get("headers", ()), message.get("body", b""))

    def write(self, status: int, headers: Any, body: bytes) -> None:
        """Write the answer, then let the connection go on (or close it)."""
        self.response_complete = True
        protocol = self.protocol
        if self.disconnected:
            return
        lines = [STATUS_LINE[status]]
        for name, value in protocol.server_state.default_headers:
            lines += [name, b": ", value, b"\r\n"]
        for name, value in headers:
            lines += [name, b": ", value, b"\r\n"]
        if not self.keep_alive:
            lines.append(b"connection: close\r\n")
        lines += [b"\r\n", body]
        transport = protocol.transport
        transport.write(b"".join(lines))
        if not self.keep_alive:
            transport.close()
        protocol.on_response_complete()


class DirectProtocol(GatheringProtocol):
    """httptools HTTP/1.1 (one write per turn), with /v1 changes answered directly by `api`."""

    api: ClassVar[Any] = None  # the LedgerApp, set by serve()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.direct: DirectCycle | None = None

    def on_headers_complete(self) -> None:
        parser = self.parser
        if (
            self.api is not None
            and parser.get_method() in _CHANGES
            and self.url.startswith(b"/v1/")
            and not self.expect_100_continue
            and not parser.should_upgrade()
            and (self.cycle is None or self.cycle.response_complete)
            and declared_size(self.headers) <= MAX_BODY  # (else uvicorn's cycle answers it before the body)
        ):
            path, _, query = self.url.partition(b"?")
            scope = {
                "type": "http",
                "method": parser.get_method().decode("ascii"),
                "http_version": parser.get_http_version(),
                "raw_path": path,
                "path": path.decode("latin-1"),
                "query_string": query,
                "headers": self.headers,
            }
            keep_alive = scope["http_version"] != "1.0" and parser.should_keep_alive()
            self.direct = self.cycle = DirectCycle(self, scope, keep_alive)  # type: ignore[assignment]
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self.direct is not None:
            self.direct.add(body)
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        direct = self.direct
        if direct is None:
            super().on_message_complete()
            return
        task = self.loop.create_task(self._answer(direct))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    async def _answer(self, direct: DirectCycle) -> None:
        if direct.size > MAX_BODY:
            status, body = error_answer(body_too_large())
            self.api.metrics.count_request(status)
            direct.write(status, _json_headers(body), body)
            return
        await self.api(direct.scope, direct.receive, direct.send)
        if not direct.response_complete:  # (the app always answers; a connection never hangs)
            body = error_answer(RuntimeError())[1]
            direct.write(500, _json_headers(body), body)


def _json_headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]


def serve_directly(api: Any) -> type[DirectProtocol]:
    """The protocol class for uvicorn's `http`, answering `api`'s changes directly."""
    return type("LedgerProtocol", (DirectProtocol,), {"api": api})
