"""An SSE stream of a token checks the token twice a second; an event that arrives while that check
awaits is sent, not dropped (a review lost one event in about ten this way when commits came
about HOLDS_S apart, as a runner's do on a quiet server). The stream's loop is driven here with a
subscription of its own and a check that lets an event arrive mid-way."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

from jobledger.server import events
from jobledger.server.auth import Caller
from jobledger.server.stream import Filter, Subscription


class Entry:
    """What the stream writes of an entry."""

    def __init__(self, position: int) -> None:
        self.position = position
        self.name = "Submitted"

    def record(self) -> dict[str, Any]:
        return {"position": self.position}


class Stream:
    """A broadcaster at position 0 with no history, whose one subscription the test feeds."""

    position = 0

    def __init__(self) -> None:
        self.subscription: Subscription | None = None

    def subscribe(self, wanted: Filter, holder: str | None = None) -> Subscription:
        self.subscription = Subscription(wanted, holder)
        return self.subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        pass

    async def history(self, *args: Any) -> list[Entry]:
        return []


class Gate:
    """A token check that takes a moment, during which the next event arrives."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.checks = 0

    async def holds(self, caller: Caller, *, read_since: float) -> bool:
        self.checks += 1
        await asyncio.sleep(0.01)
        assert self.stream.subscription is not None
        if self.checks == 2:  # (the first check is the one before any event)
            self.stream.subscription.queue.put_nowait(Entry(1))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        if self.checks == 3:
            self.stream.subscription.queue.put_nowait(None)  # then the stream ends
        return True


def test_an_event_that_arrives_during_the_token_check_is_sent() -> None:
    async def run() -> list[bytes]:
        stream = Stream()
        sent: list[bytes] = []
        never = asyncio.Event()

        async def send(message: dict[str, Any]) -> None:
            sent.append(message.get("body", b""))

        request = SimpleNamespace(disconnected=never.wait)
        metrics = SimpleNamespace(subscribers=SimpleNamespace(inc=lambda: None, dec=lambda: None))
        caller = Caller(SimpleNamespace(tokenId="t1"))  # type: ignore[arg-type]
        await asyncio.wait_for(
            events._sse(request, send, stream, Filter(), 0, metrics, caller, Gate(stream)),  # type: ignore[arg-type]
            timeout=10,
        )
        return sent

    # On a thread of its own: a test run before this one may leave an event loop running on
    # this thread (Playwright's sync API does), where asyncio.run is refused.
    with ThreadPoolExecutor(1) as thread:
        sent = thread.submit(asyncio.run, run()).result(timeout=30)
    assert any(body.startswith(b"id: 1\n") for body in sent), sent
