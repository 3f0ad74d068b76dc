"""`jobledger serve`'s ASGI application: the routes of /v1, health and metrics.

Commands go to the group-commit writer and are answered once durable; queries read the views
(caught up to `minPosition` if asked) or the store; the event stream is NDJSON or SSE.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from itertools import repeat
from typing import Any, TypeVar

import msgspec

from jobledger.audit import chain
from jobledger.domain.access import DRIVE, MANAGE, TokenBook
from jobledger.domain.commands import Command
from jobledger.domain.errors import LedgerError, NotRecordedError, StoreError
from jobledger.projections import queries
from jobledger.projections.database import ViewsDatabase
from jobledger.service.ledger import JobLedger
from jobledger.service.records import event_record, job_record

from . import batches, query_routes, token_routes, wire
from .auth import DRIVING, Caller, Gate
from .errors import HttpError, error_answer
from .group_commit import Done, GroupWriter, Recorded, Writer
from .http import BROKEN_PATH, JSON, Receive, Request, Scope, Send, answer, answer_json
from .metrics import EventsCollector, Metrics, RunsCollector, company_metrics
from .openapi import DOCS_PAGE, openapi_document
from .process_writer import ProcessWriter
from .scheduling import ServedScheduler
from .stream import Broadcaster
from .views import ServedViews

log = logging.getLogger("jobledger.server")
T = TypeVar("T")

_decode = wire.decode
_REPLAYED = [*JSON, (b"idempotent-replayed", b"true")]


class LedgerApp:
    """The ASGI callable, holding the writer, the views and the stream of one ledger."""

    def __init__(self, ledger: JobLedger, views: str | None, *, auth: bool = True) -> None:
        self.ledger = ledger
        self.gate = Gate(self._read_book, enabled=auth)
        self.metrics = Metrics()
        self._store = ThreadPoolExecutor(1, thread_name_prefix="jobledger-writer")
        self._reads = ThreadPoolExecutor(2, thread_name_prefix="jobledger-reads")
        self.views = ServedViews(ledger, views)
        self.stream = Broadcaster(ledger.shared_reader(), self.views.position)
        # SQLite: groups decided and appended on the event loop; PostgreSQL: a writer process.
        writer = GroupWriter if ledger.can_hold_commit else ProcessWriter
        self.writer: Writer = writer(ledger, self._store, self._committed, self.metrics)
        self.scheduler = ServedScheduler(self.writer, self.views, self._stored_head, self._committed)
        self.metrics.watch(
            "jobledger_queue_depth", "Commands waiting for a group.", lambda: self.writer.depth
        )
        self.metrics.watch(
            "jobledger_view_lag_events",
            "Events committed but not yet in the views.",
            lambda: max(0, self.views.head - self.views.position),
        )
        self.metrics.watch("jobledger_head_position", "Position of the last event.", lambda: self.views.head)
        self.metrics.add_collector(RunsCollector(self._run_counts))
        self.metrics.add_collector(EventsCollector(self.writer.events_appended))
        self._started = False

    # --- lifecycle -------------------------------------------------------------------------------

    async def startup(self) -> None:
        """Start the writer, the views' follower and the stream."""
        if self.gate.enabled:
            await self.gate.refresh(force=True)
        await self.writer.start()
        await self.views.start()
        self.stream.start()
        self.scheduler.start()
        self._started = True

    async def shutdown(self) -> None:
        """Answer every command taken, then stop."""
        await self.scheduler.close()
        await self.writer.close()
        await self.stream.close()
        await self.views.close()
        self._store.shutdown()
        self._reads.shutdown()

    def _committed(self, position: int) -> None:
        self.views.committed(position)
        self.stream.committed(position)

    # --- ASGI ------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        status = 500
        try:
            status = await self._route(request, send)
        except Exception as err:
            status, body = error_answer(err)
            if status == 500:
                log.exception("unexpected error on %s %s", request.method, "/".join(request.segments))
            challenge = [(b"www-authenticate", b'Bearer realm="jobledger"')] if status == 401 else []
            extra = err.headers if isinstance(err, HttpError) else []
            await answer(send, status, body, [*JSON, *challenge, *extra])
        self.metrics.count_request(status)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _route(self, request: Request, send: Send) -> int:
        parts, method = request.segments, request.method
        if request.bad_path:
            raise HttpError(400, "bad_request", BROKEN_PATH)
        if parts in _PLATFORM_PATHS and method not in _READS:
            raise not_allowed(method, parts, _READS, use="GET")
        if parts == ["healthz"]:
            await answer_json(send, 200, {"status": "up"})
            return 200
        if parts == ["readyz"]:
            return await self._ready(send)
        if parts[:1] == ["v1"] and parts[1:] in (["openapi.json"], ["docs"]) and method == "GET":
            return await self._documents(parts[1], send)
        caller = await self.gate.caller(request)
        if parts == ["metrics"]:
            caller.require(MANAGE, "read the metrics")  # an admin: the server's IpsAdmin, or a company's
            await self.views.caught_up()  # the runs it counts include what was answered before
            scope = caller.scope
            text = self.metrics.render() if scope is None else await self._company_metrics(scope)
            await answer(send, 200, text, [(b"content-type", b"text/plain; version=0.0.4")])
            return 200
        if not parts or parts[0] != "v1":
            raise HttpError(404, "not_found", f"no such path: /{'/'.join(parts)}")
        route = parts[1:]
        if route[:1] == ["tokens"]:
            return await token_routes.answer_tokens(self, request, route, caller, send)
        allowed = methods_of(route)
        if allowed and method not in allowed:
            raise not_allowed(method, parts, allowed, use=" or ".join(allowed))
        if method == "POST":
            return await self._command(request, route, caller, send)
        if method == "DELETE" and len(route) == 2 and route[0] == "jobs":
            caller.require(MANAGE, batches.asked_of("delete"))
            body = _decode(wire.ChangeSchedule, await request.body())
            return await self._one(send, wire.schedule_command("delete", route[1], body), caller)
        if method in ("GET", "HEAD"):
            return await query_routes.answer_query(self, request, route, caller, send)
        raise HttpError(405, "method_not_allowed", f"{method} is not allowed on /{'/'.join(parts)}")

    # --- commands --------------------------------------------------------------------------------

    async def _command(self, request: Request, route: list[str], caller: Caller, send: Send) -> int:
        body = await request.body()
        if route == ["batch"]:
            if request.headers.get("idempotency-key"):  # (a retry would record the batch again)
                raise HttpError(
                    400,
                    "bad_request",
                    "a batch takes no Idempotency-Key header: give each submit its own idempotencyKey",
                )
            return await self._batch(send, _decode(batches.Batch, body), caller)
        if route == ["jobs"]:
            caller.require(DRIVE, DRIVING)
            key = idempotency_key(request)
            submitted = _decode(wire.SubmitJob, body)
            caller.acts_for(submitted.companyHandle)
            (done,) = await self.writer.submit([wire.submit_command(submitted, key)])
            if done.replayed and key is not None:
                return await self._replayed(send, submitted.companyHandle, key)
            return await self._accepted(send, done, created=True)
        if len(route) != 3 or route[0] != "jobs":
            raise HttpError(404, "not_found", f"no such path: /v1/{'/'.join(route)}")
        handle, action = route[1], route[2]
        if action == "log":
            caller.require(DRIVE, DRIVING)
            return await self._log(send, handle, body, caller)
        if action in batches.JOB_ACTIONS:
            kind, make, grant = batches.JOB_ACTIONS[action]
            caller.require(grant, DRIVING)
            return await self._one(send, make(handle, _decode(kind, body)), caller)
        if action in batches.SCHEDULE_ROUTES:
            caller.require(MANAGE, batches.asked_of(action))
            command = wire.schedule_command(action, handle, _decode(wire.ChangeSchedule, body))
            if action == "execute":  # (the answer names the run it made, as `jobledger execute` prints it)
                (done,) = await self.writer.submit([_scoped(command, caller)])
                return await self._accepted(send, done, run=True)
            return await self._one(send, command, caller)
        raise HttpError(404, "not_found", f"no such action: {action}")

    async def _batch(self, send: Send, batch: batches.Batch, caller: Caller) -> int:
        commands = [_scoped(command, caller) for command in batches.commands_of(batch, caller)]
        if batch.atomic:
            try:
                recorded = await self.write(lambda: self.ledger.record(commands))
            except Exception as err:  # all or none: every command has the batch's result
                self.metrics.count_commands(commands, repeat(_batch_result(err)))
                raise
            self.metrics.count_commands(commands, repeat("ok"))
            value: dict[str, Any] = {
                "position": self.views.head,
                "states": [job_record(state, last_event=True) for state in recorded],
            }
        else:
            answers = await self.writer.submit(commands)
            # (the views' head too: an all-or-none batch commits outside the writer's groups)
            position = max(self.writer.position, self.views.head)
            value = {"position": position, "results": [_each_result(done) for done in answers]}
        await answer_json(send, 200, value)
        return 200

    async def _one(self, send: Send, command: Command, caller: Caller) -> int:
        (done,) = await self.writer.submit([_scoped(command, caller)])
        return await self._accepted(send, done)

    async def _log(self, send: Send, handle: str, body: bytes, caller: Caller) -> int:
        rows = _decode(wire.JobLogDetail | list[wire.JobLogDetail], body)
        if not isinstance(rows, list):
            return await self._one(send, wire.log_command(handle, rows), caller)
        if not rows:
            raise HttpError(400, "invalid_body", "an empty array of job-log rows")
        batches.check_size(len(rows), "job-log rows")
        commands = [_scoped(wire.log_command(handle, row), caller) for row in rows]
        # All or none: a runner that sends its files' rows in one request learns of the row that
        # failed and sends the array again, without rows stored twice.
        answers = await self.writer.submit(commands, together=True)
        failed = next(
            (
                (index, done.outcome)
                for index, done in enumerate(answers)
                if isinstance(done.outcome, LedgerError) and not isinstance(done.outcome, NotRecordedError)
            ),
            None,
        )
        if failed is not None:
            index, error = failed
            status, body_out = error_answer(error)
            body_out = msgspec.json.encode({"error": msgspec.json.decode(body_out)["error"] | {"row": index}})
            await answer(send, status, body_out)
            return status
        last = answers[-1]
        return await self._accepted(send, last, rows=len(answers))

    async def _accepted(
        self,
        send: Send,
        done: Done,
        *,
        created: bool = False,
        rows: int | None = None,
        run: bool = False,
        headers: list[tuple[bytes, bytes]] = JSON,
    ) -> int:
        if isinstance(done.outcome, LedgerError):
            raise done.outcome
        position = done.position or self.writer.position or self.views.head
        value: dict[str, Any] = {
            "jobHandle": done.outcome.handle,
            "position": position,
            "state": msgspec.Raw(done.outcome.record),
        }
        if rows is not None:
            value["rows"] = rows
        if run:
            value["runHandle"] = msgspec.json.decode(done.outcome.record)["lastRunHandle"]
        status = 201 if created else 200
        await answer_json(send, status, value, headers)
        return status

    async def _replayed(self, send: Send, company: str, key: str) -> int:
        # The submit's own answer again (its state then, the position of its last event), as
        # 200 and marked in a header: a runner that lost the first answer gets the same body.
        found = await self.read(self.ledger.submitted, company, key)
        assert found is not None  # (the writer has just found the key's claim)
        state, position = found
        return await self._accepted(send, Done(Recorded.of(state), position, True), headers=_REPLAYED)

    # --- queries ---------------------------------------------------------------------------------

    async def _documents(self, name: str, send: Send) -> int:
        if name == "docs":
            await answer(send, 200, DOCS_PAGE, [(b"content-type", b"text/html; charset=utf-8")])
        else:
            await answer(send, 200, openapi_document())
        return 200

    # --- what the dashboard reads besides the views ------------------------------------------------

    async def job(self, handle: str, company: str | None) -> dict[str, Any]:
        """A run's or schedule's record (IPS names); UnknownHandleError for another company's."""
        state = await self.read(self.ledger.get, handle, company)
        return job_record(state, last_event=True)

    async def history_records(self, handle: str, company: str | None) -> list[dict[str, Any]]:
        """Every event of a run or schedule as history prints it."""
        events = await self.read(self.ledger.history, handle, company)
        return [event_record(event) for event in events]

    async def digest(self) -> tuple[str, int]:
        """The chain's head (POSITION:HEX) and how many events it covers."""
        digest = await self.read(chain.digest, self.ledger.reader)
        return str(digest), digest.ordinal

    def verify(self, progress: Callable[[int], None] | None = None) -> str | None:
        """Verify the whole chain (blocking: run it in a thread of its own, not the reads');
        None if intact, else what is wrong (one line)."""
        problem = chain.verify(self.ledger.reader, progress=progress)
        return None if problem is None else str(problem)

    async def _ready(self, send: Send) -> int:
        try:
            head = await self.read(self.ledger.head_position)
        except Exception as err:  # the store cannot be reached
            await answer_json(send, 503, {"status": "store unreachable", "reason": str(err)})
            return 503
        lag = max(0, head - self.views.position)
        if not self.writer.ready:
            status = "writer restarting"
        else:
            status = "ready" if self._started and lag <= 10_000 else "behind"
        code = 200 if status == "ready" else 503
        await answer_json(send, code, {"status": status, "viewLag": lag})
        return code

    async def write(self, write: Callable[[], T]) -> T:
        """A write of the ledger's own (a token's, an all-or-none batch's), between two groups."""
        # Where the writer writes its groups, between two of them: the ledger has one writer.
        result = await self.writer.write(write)
        self._committed(await self._stored_head())
        return result

    async def _read_book(self, book: TokenBook | None) -> TokenBook:
        result: TokenBook = await self.read(self.ledger.tokens, book)
        return result

    async def _stored_head(self) -> int:
        head: int = await self.read(self.ledger.head_position)
        return head

    async def read(self, read: Any, *args: Any) -> Any:
        """Call `read(*args)` on a reader thread (the ledger, the store: never the views)."""
        return await asyncio.get_running_loop().run_in_executor(self._reads, read, *args)

    async def _company_metrics(self, company: str) -> bytes:
        since = datetime.now(UTC) - timedelta(hours=1)

        def read(db: ViewsDatabase) -> tuple[dict[str, int], dict[str, int]]:
            sql = "SELECT state, COUNT(*) FROM active_jobs WHERE companyHandle = ? GROUP BY state"
            by_state = {state: count for state, count in db.query(sql, [company])}
            minutes = queries.activity(db, since, company)
            return by_state, {name: sum(m[name] for m in minutes) for name in queries.ACTIVITY_COUNTS}

        (by_state, last_hour), _ = await self.views.query(read)
        return company_metrics(company, by_state, last_hour)

    def _run_counts(self) -> tuple[dict[str, int], int]:
        try:
            by_state, companies = self.views.read_now(
                lambda db: (
                    db.query("SELECT state, COUNT(*) FROM active_jobs GROUP BY state", ()),
                    db.query("SELECT COUNT(DISTINCT companyHandle) FROM active_jobs", ())[0][0],
                )
            )
        except Exception:  # a scrape must not fail because the views are busy
            return {}, 0
        return {state: count for state, count in by_state}, companies


def _scoped(command: Command, caller: Caller) -> Command:
    """The command limited to the caller's company: another company's handle is unknown (404)."""
    scope = caller.scope
    return command if scope is None else msgspec.structs.replace(command, company=scope)


_READS = ("GET", "HEAD")
_PLATFORM_PATHS = (["healthz"], ["readyz"], ["metrics"], ["v1", "openapi.json"], ["v1", "docs"])
_QUERIES = (["active-jobs"], ["scheduled-jobs"], ["job-logs"], ["events"], ["position"], ["audit", "digest"])


def methods_of(route: list[str]) -> tuple[str, ...]:
    """The methods a path under /v1 takes (none: no such path, left to the routes to say)."""
    match route:
        case ["jobs"] | ["batch"]:
            return ("POST",)
        case ["jobs", _]:
            return (*_READS, "DELETE")
        case ["jobs", _, "history" | "log-details"] | ["assets", _, "job-logs"]:
            return _READS
        case ["jobs", _, action] if action == "log" or action in batches.JOB_ACTIONS:
            return ("POST",)
        case ["jobs", _, action] if action in batches.SCHEDULE_ROUTES:
            return ("POST",)
    return _READS if route in _QUERIES else ()


def not_allowed(method: str, parts: list[str], allowed: tuple[str, ...], *, use: str) -> HttpError:
    """The 405 of a method the path /`parts` does not take, with its Allow header."""
    return HttpError(
        405,
        "method_not_allowed",
        f"{method} is not allowed on /{'/'.join(parts)}: use {use}",
        [(b"allow", ", ".join(allowed).encode())],
    )


def _batch_result(err: Exception) -> str:
    """An all-or-none batch's result for the metrics, when it was not recorded."""
    return "failed" if isinstance(err, StoreError) or not isinstance(err, LedgerError) else "refused"


def _each_result(done: Done) -> dict[str, Any]:
    """One command's answer in a batch recorded each on its own."""
    if isinstance(done.outcome, LedgerError):
        status, body = error_answer(done.outcome)
        return {"status": status, **msgspec.json.decode(body)}
    return {
        "status": 200,
        "position": done.position,
        "replayed": done.replayed,
        "state": msgspec.Raw(done.outcome.record),
    }


def idempotency_key(request: Request) -> str | None:
    """The request's Idempotency-Key as the text the runner meant (UTF-8, as curl sends it), or
    None; an empty one is kept, for the ledger to refuse as it refuses it from the CLI."""
    values = [value for name, value in request.raw_headers if name.lower() == b"idempotency-key"]
    if len(values) > 1:
        raise HttpError(400, "bad_request", "more than one Idempotency-Key header: send one")
    try:
        return values[0].decode() if values else None
    except UnicodeDecodeError:
        raise HttpError(400, "bad_request", "the Idempotency-Key header is not UTF-8 text") from None
