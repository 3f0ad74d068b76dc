"""uvicorn's server, stopping the live event streams first, and a stop asked before it took the
signals."""

from __future__ import annotations

import socket

import uvicorn

from .app import LedgerApp


class StreamsFirst(uvicorn.Server):
    """uvicorn's server, which ends the live event streams and the queries waiting for a position
    before it waits for the requests in flight to finish: a stream never would, and would hold
    the stop until the graceful timeout, and a wait would hold it up to 10 s. Their clients
    resume on the next server."""

    def __init__(self, config: uvicorn.Config, app: LedgerApp) -> None:
        super().__init__(config)
        self.ledger_app = app
        # A stop signal that came before uvicorn took the signals over (serving.py notes it):
        # the server starts, then stops at once, gracefully, as if the signal came then.
        self.stop_asked = False

    async def main_loop(self) -> None:
        if self.stop_asked:
            self.should_exit = True
        await super().main_loop()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.ledger_app.stream.end_streams()
        await self.ledger_app.views.end_waits()
        await super().shutdown(sockets)
