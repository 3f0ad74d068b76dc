"""GET /v1/events: the global event log as NDJSON (what is stored now), or live as SSE.

SSE ids are positions: a client that reconnects with Last-Event-ID (or `after`) gets every
event after it, once, then the live ones as they commit.
"""

from __future__ import annotations

import asyncio
import contextlib

import msgspec

from jobledger.audit.eventlog import Entry
from jobledger.domain.handles import job_id

from .errors import HttpError
from .http import Request, Send
from .metrics import Metrics
from .stream import PAGE, Broadcaster, Filter

HEARTBEAT_S = 15.0
_encode = msgspec.json.Encoder().encode


async def stream_events(
    request: Request, send: Send, stream: Broadcaster, metrics: Metrics, company: str | None
) -> int:
    """Answer an events request (of `company`'s jobs only, when given); the status sent."""
    after = request.integer("after", 0) or 0
    last_id = request.headers.get("last-event-id", "").strip()
    if last_id:
        if not last_id.isdigit():
            raise HttpError(400, "bad_request", f"Last-Event-ID must be a position, got {last_id!r}")
        after = max(after, int(last_id))
    names = frozenset(name for given in request.lists.get("name", []) for name in given.split(",") if name)
    job = request.text("jobHandle")
    wanted = Filter(company=company, job=job_id(job) if job else None, names=names)
    limit = request.integer("limit", None, least=1)
    if "text/event-stream" in request.headers.get("accept", ""):
        await _sse(request, send, stream, wanted, after, metrics)
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
        page = await stream.history(after, 2**63 - 1, wanted, min(PAGE, limit - sent) if limit else PAGE)
        if not page:
            break
        await send({"type": "http.response.body", "body": b"".join(map(_line, page)), "more_body": True})
        sent += len(page)
        after = page[-1].position
    await send({"type": "http.response.body", "body": b""})


def _sse_event(entry: Entry) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (entry.position, entry.name.encode(), _encode(entry.record()))


async def _sse(
    request: Request, send: Send, stream: Broadcaster, wanted: Filter, after: int, metrics: Metrics
) -> None:
    headers = [
        (b"content-type", b"text/event-stream"),
        (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no"),
    ]
    subscription = stream.subscribe(wanted)  # before the history is read: nothing falls between
    upto = stream.position
    metrics.subscribers.inc()
    gone = asyncio.ensure_future(request.disconnected())
    try:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"retry: 1000\n\n", "more_body": True})
        last = after
        while last < upto:
            page = await stream.history(last, upto, wanted, PAGE)
            if not page:
                break
            await send(
                {"type": "http.response.body", "body": b"".join(map(_sse_event, page)), "more_body": True}
            )
            last = page[-1].position
        last = max(last, upto)
        while not gone.done():
            waiting = asyncio.ensure_future(subscription.queue.get())
            finished, _ = await asyncio.wait(
                {waiting, gone}, timeout=HEARTBEAT_S, return_when="FIRST_COMPLETED"
            )
            if waiting not in finished:
                waiting.cancel()
                if not gone.done():
                    await send({"type": "http.response.body", "body": b": keepalive\n\n", "more_body": True})
                continue
            entries = [waiting.result()]
            while not subscription.queue.empty():
                entries.append(subscription.queue.get_nowait())
            if None in entries:  # too far behind, or the server is stopping: the client resumes
                break
            fresh = [entry for entry in entries if entry is not None and entry.position > last]
            if fresh:
                await send(
                    {
                        "type": "http.response.body",
                        "body": b"".join(map(_sse_event, fresh)),
                        "more_body": True,
                    }
                )
                last = fresh[-1].position
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b""})
    finally:
        gone.cancel()
        stream.unsubscribe(subscription)
        metrics.subscribers.dec()
