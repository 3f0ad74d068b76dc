"""GET /v1/events: the global event log as NDJSON (what is stored now), or live as SSE.

SSE ids are positions: a client that reconnects with Last-Event-ID (or `after`) gets every
event after it, once, then the live ones as they commit. The token book's events are shown only
to a role that may list tokens; a stream ends when its token is revoked.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import msgspec

from jobledger.audit.eventlog import EVENT_NAMES, Entry
from jobledger.domain.errors import UnknownHandleError
from jobledger.domain.handles import job_id

from .auth import Caller, Gate
from .errors import HttpError
from .http import MAX_INTEGER, Request, Send
from .metrics import Metrics
from .query_params import many_of
from .stream import PAGE, Broadcaster, Filter

HEARTBEAT_S = 15.0
# How often an open stream of a token checks that it still works: a revocation on the ledger's host
# reaches the server only through the token book, read again at most this long before.
HOLDS_S = 0.5
_encode = msgspec.json.Encoder().encode


async def stream_events(
    request: Request,
    send: Send,
    stream: Broadcaster,
    metrics: Metrics,
    company: str | None,
    caller: Caller,
    gate: Gate,
) -> int:
    """Answer `caller`'s events request (of `company`'s jobs only, when given); the status sent."""
    after = request.integer("after", 0) or 0
    last_id = request.headers.get("last-event-id", "").strip()
    if last_id:
        if not last_id.isdigit() or int(last_id) > MAX_INTEGER:
            raise HttpError(400, "bad_request", f"Last-Event-ID must be a position, got {last_id!r}")
        after = max(after, int(last_id))
    names = frozenset(many_of(request, "name", EVENT_NAMES))
    job = request.text("jobHandle")
    if job:
        owner = await stream.company_of(job)
        if owner is None or company not in (None, owner):  # another company's: as if there were none
            raise UnknownHandleError(job, company)
    wanted = Filter(company=company, job=job_id(job) if job else None, names=names, tokens=caller.manages)
    limit = request.integer("limit", None, least=1)
    if "text/event-stream" in request.headers.get("accept", ""):
        await _sse(request, send, stream, wanted, after, metrics, caller, gate)
    else:
        await _ndjson(send, stream, wanted, after, limit)
    return 200


def _line(entry: Entry) -> bytes:
    return _encode(entry.record()) + b"\n"


async def _ndjson(send: Send, stream: Broadcaster, wanted: Filter, after: int, limit: int | None) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/x-ndjson")],
        }
    )
    sent = 0
    while limit is None or sent < limit:
        page = await stream.history(after, MAX_INTEGER, wanted, min(PAGE, limit - sent) if limit else PAGE)
        if not page:
            break
        await send({"type": "http.response.body", "body": b"".join(map(_line, page)), "more_body": True})
        sent += len(page)
        after = page[-1].position
    await send({"type": "http.response.body", "body": b""})


def _sse_event(entry: Entry) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (entry.position, entry.name.encode(), _encode(entry.record()))


async def _sse(
    request: Request,
    send: Send,
    stream: Broadcaster,
    wanted: Filter,
    after: int,
    metrics: Metrics,
    caller: Caller,
    gate: Gate,
) -> None:
    headers = [
        (b"content-type", b"text/event-stream"),
        (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no"),
    ]
    holder = caller.token.tokenId if caller.token is not None else None
    subscribed = time.monotonic()
    # Before the history is read: nothing falls between. The token's revocation, if it comes
    # later, ends the subscription before any event after it.
    subscription = stream.subscribe(wanted, holder)
    upto = stream.position
    metrics.subscribers.inc()
    gone = asyncio.ensure_future(request.disconnected())
    try:
        if not await gate.holds(caller, read_since=subscribed):  # revoked before the subscription
            raise HttpError(401, "unauthorized", "the token is not valid (unknown or revoked)")
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"retry: 1000\n\n", "more_body": True})
        last = after
        while last < upto:
            page = await stream.history(last, upto, wanted, PAGE)
            if not page:
                break
            await _send_events(send, page)
            last = page[-1].position
        last = max(last, upto)
        checked = sent = time.monotonic()
        while not gone.done():
            waiting = asyncio.ensure_future(subscription.queue.get())
            await asyncio.wait(
                {waiting, gone},
                timeout=HEARTBEAT_S if holder is None else HOLDS_S,
                return_when="FIRST_COMPLETED",
            )
            now = time.monotonic()
            if holder is not None and now - checked >= HOLDS_S:
                if not await gate.holds(caller, read_since=now - HOLDS_S):
                    waiting.cancel()
                    break  # revoked on the ledger's host, and no event since has said so
                checked = now
            # Done now, not when the wait ended: an event may have been taken off the queue while
            # the token's check above awaited, and it is sent like any other.
            if not waiting.done():
                waiting.cancel()
                if not gone.done() and now - sent >= HEARTBEAT_S - HOLDS_S:  # (a wait may end early)
                    await send({"type": "http.response.body", "body": b": keepalive\n\n", "more_body": True})
                    sent = now
                continue
            entries = [waiting.result()]
            while not subscription.queue.empty():
                entries.append(subscription.queue.get_nowait())
            if None in entries:  # too far behind, revoked, or the server is stopping: the client resumes
                break
            fresh = [entry for entry in entries if entry is not None and entry.position > last]
            if fresh:
                await _send_events(send, fresh)
                last, sent = fresh[-1].position, now
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b""})
    finally:
        gone.cancel()
        stream.unsubscribe(subscription)
        metrics.subscribers.dec()


async def _send_events(send: Send, entries: list[Entry]) -> None:
    body = b"".join(map(_sse_event, entries))
    await send({"type": "http.response.body", "body": body, "more_body": True})
