"""uvicorn's httptools protocol, writing each answer to its socket once.

ASGI sends an answer as two messages (status line and headers, then the body) and uvicorn writes
each to the socket as it comes: two system calls an answer, both made holding the GIL that every
request of the server shares. Here the writes of one turn of the event loop are gathered and made
as one, at the end of that turn; nothing waits longer than the turn.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class GatheringTransport:
    """A transport whose writes within one turn of the loop reach the socket as one write."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        """Queue `data` for the write at the end of this turn."""
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def writelines(self, lines: list[bytes]) -> None:
        """Queue each of `lines`."""
        for data in lines:
            self.write(data)

    def close(self) -> None:
        """Write what is queued, then close."""
        self._flush()
        self._transport.close()

    def _flush(self) -> None:
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GatheringProtocol(HttpToolsProtocol):
    """httptools HTTP/1.1 with one socket write per turn of the loop and connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        gathering: Any = GatheringTransport(transport, self.loop)
        super().connection_made(gathering)
