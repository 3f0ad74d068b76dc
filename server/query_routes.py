"""`jobledger serve`'s queries: the views' (each with its position, waiting for `minPosition`),
a run's state and history from the store, the event stream and the audit digest."""

from __future__ import annotations

from typing import Any, Protocol

from jobledger.audit import chain
from jobledger.domain.access import EVERY_COMPANY
from jobledger.domain.aggregates import Aggregate
from jobledger.projections import paging, queries
from jobledger.service.ledger import JobLedger
from jobledger.service.records import event_record, job_record

from .auth import Caller
from .errors import HttpError
from .events import stream_events
from .http import Request, Send, answer_json
from .metrics import Metrics
from .stream import Broadcaster
from .views import ServedViews


class Served(Protocol):
    """What the queries read of the server (its LedgerApp)."""

    ledger: JobLedger
    views: ServedViews
    stream: Broadcaster
    metrics: Metrics

    async def read(self, read: Any, *args: Any) -> Any:
        """Call `read(*args)` on a reader thread."""


async def answer_query(app: Served, request: Request, route: list[str], caller: Caller, send: Send) -> int:
    min_position = request.integer("minPosition", 0) or 0
    company = caller.company(request.text("companyHandle"))
    if route == ["active-jobs"]:
        rows, position = await app.views.query(
            lambda db: queries.active_jobs(
                db,
                company=company,
                job=request.text("jobHandle"),
                original_name=request.text("originalName"),
                include_waiting=bool(request.flag("includeWaitingJobs")),
                state=request.text("state"),
                job_type=request.text("type"),
                server=request.text("serverName", "server"),
                limit=request.integer("numRows", None, least=1),
            ),
            min_position,
        )
        await answer_json(send, 200, {"activeJobArray": rows, "position": position})
    elif route == ["scheduled-jobs"]:
        rows, position = await app.views.query(
            lambda db: queries.scheduled_jobs(
                db,
                company=company,
                job=request.text("jobHandle"),
                original_name=request.text("originalName"),
                limit=request.integer("numRows", None, least=1),
            ),
            min_position,
        )
        await answer_json(send, 200, {"scheduledJobArray": rows, "position": position})
    elif route == ["job-logs"]:
        return await _job_logs(app, request, send, company, min_position)
    elif len(route) == 3 and route[0] == "jobs" and route[2] == "log-details":
        return await _details(app, request, send, route[1], company, min_position)
    elif len(route) == 3 and route[0] == "assets" and route[2] == "job-logs":
        if company is None:
            raise HttpError(400, "bad_query", "companyHandle is required")
        rows, position = await app.views.query(
            lambda db: queries.asset_job_logs(
                db, route[1], company, limit=request.integer("numRows", None, least=1)
            ),
            min_position,
        )
        await answer_json(send, 200, {"assetJobLogArray": rows, "position": position})
    elif len(route) == 2 and route[0] == "jobs":
        return await _state(app, request, send, route[1], company)
    elif len(route) == 3 and route[0] == "jobs" and route[2] == "history":
        return await _history(app, send, route[1], company)
    elif route == ["events"]:
        return await stream_events(request, send, app.stream, app.metrics, company)
    elif route == ["position"]:
        head = await app.read(app.ledger.head_position)
        await answer_json(send, 200, {"position": head})
    elif route == ["audit", "digest"]:
        caller.require(EVERY_COMPANY)
        digest = await app.read(chain.digest, app.ledger.reader)
        await answer_json(send, 200, {"digest": str(digest), "events": digest.ordinal})
    else:
        raise HttpError(404, "not_found", f"no such path: /v1/{'/'.join(route)}")
    return 200


async def _job_logs(app: Served, request: Request, send: Send, company: str | None, min_position: int) -> int:
    sort_by = request.choice("sortBy", list(queries.LOG_SORT_FIELDS), "StartDate")
    direction = request.choice("sortDirection", list(queries.DIRECTIONS), "Descending")
    limit = request.integer("numRows", None, least=1)
    cursor = request.text("cursor")
    before = bool(request.flag("before"))
    filters: dict[str, Any] = {
        "company": company,
        "user": request.text("userHandle"),
        "since": request.moment("startDate"),
        "until": request.moment("endDate"),
        "sort_by": sort_by,
        "direction": direction,
        "outcome": request.text("outcome"),
        "state": request.text("state"),
        "job_type": request.text("type"),
        "server": request.text("serverName", "server"),
        "deleted": request.flag("deleted"),
    }
    if cursor is None and not before and (limit is None or limit > queries.MAX_PER_PAGE):
        rows, position = await app.views.query(
            lambda db: queries.job_logs(db, limit=limit, **filters), min_position
        )
        await answer_json(send, 200, {"jobLogArray": rows, "position": position})
        return 200
    # A page of at most 1000, with the cursors of the pages after and before it.
    page, position = await app.views.query(
        lambda db: paging.job_logs_page(
            db, cursor=cursor, before=before, limit=limit or paging.DEFAULT_PAGE, **filters
        ),
        min_position,
    )
    await answer_json(
        send,
        200,
        {
            "jobLogArray": page.rows,
            "position": position,
            "nextCursor": page.next_cursor,
            "previousCursor": page.previous_cursor,
        },
    )
    return 200


async def _details(
    app: Served, request: Request, send: Send, handle: str, company: str | None, min_position: int
) -> int:
    sort_by = request.choice("sortBy", list(queries.DETAIL_SORT_FIELDS), "Date")
    direction = request.choice("sortDirection", list(queries.DIRECTIONS), "Ascending")
    per_page = request.integer("recordsPerPage", queries.MAX_PER_PAGE, least=1, most=queries.MAX_PER_PAGE)
    page = request.integer("resultsPage", 1, least=1)
    types = [value for given in request.lists.get("logTypeArray", []) for value in given.split(",") if value]
    record, position = await app.views.query(
        lambda db: queries.job_log_details(
            db,
            handle,
            company=company,
            log_types=types,
            sort_by=sort_by,
            direction=direction,
            page=page or 1,
            per_page=per_page or queries.MAX_PER_PAGE,
        ),
        min_position,
    )
    await answer_json(send, 200, {"jobLog": record, "position": position})
    return 200


async def _state(app: Served, request: Request, send: Send, handle: str, company: str | None) -> int:
    as_of = request.moment("asOf")
    version = request.integer("version", None, least=1)
    if as_of is not None and version is not None:
        raise HttpError(400, "bad_query", "give asOf or version, not both")

    def read() -> tuple[int, Aggregate]:
        # The head first: the state read after it reflects at least that position.
        head = app.ledger.head_position()
        if as_of is None and version is None:
            return head, app.ledger.get(handle, company)
        return head, app.ledger.state_at(handle, as_of=as_of, version=version, company=company)

    position, state = await app.read(read)
    value = {"job": job_record(state, last_event=True), "version": state.version, "position": position}
    await answer_json(send, 200, value)
    return 200


async def _history(app: Served, send: Send, handle: str, company: str | None) -> int:
    def read() -> tuple[int, list[dict[str, Any]]]:
        head = app.ledger.head_position()
        return head, [event_record(event) for event in app.ledger.history(handle, company)]

    position, records = await app.read(read)
    await answer_json(send, 200, {"jobHandle": handle, "events": records, "position": position})
    return 200
