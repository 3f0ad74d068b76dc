"""`jobledger serve`'s queries: the views' (each with its position, waiting for `minPosition`),
a run's state and history from the store, the event stream and the audit digest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from jobledger.audit import chain
from jobledger.domain.access import EVERY_COMPANY
from jobledger.domain.aggregates import Aggregate
from jobledger.domain.constants import JOB_STATES, OUTCOMES
from jobledger.projections import checks, paging, queries
from jobledger.service.ledger import JobLedger
from jobledger.service.records import event_record, job_record

from .auth import Caller, Gate
from .errors import HttpError
from .events import stream_events
from .http import Request, Send, answer_json
from .metrics import Metrics
from .query_params import check_names, checked, choice, log_types, one_of
from .stream import Broadcaster
from .views import ServedViews

T = TypeVar("T")


class Served(Protocol):
    """What the queries read of the server (its LedgerApp)."""

    ledger: JobLedger
    views: ServedViews
    stream: Broadcaster
    metrics: Metrics
    gate: Gate

    async def read(self, read: Any, *args: Any) -> Any:
        """Call `read(*args)` on a reader thread."""


async def answer_query(app: Served, request: Request, route: list[str], caller: Caller, send: Send) -> int:
    check_names(request, route)
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
                state=one_of(request, "state", checks.ACTIVE_STATES),
                job_type=checked(request, "type", checks.job_type),
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
        return await _state(app, request, send, route[1], company, min_position)
    elif len(route) == 3 and route[0] == "jobs" and route[2] == "history":
        limit = request.integer("limit", None, least=1)
        return await _history(app, send, route[1], company, min_position, limit)
    elif route == ["events"]:
        return await stream_events(request, send, app.stream, app.metrics, company, caller, app.gate)
    elif route == ["position"]:
        head = await app.read(app.ledger.head_position)
        await answer_json(send, 200, {"position": head})
    elif route == ["audit", "digest"]:
        caller.require(EVERY_COMPANY, "read the audit digest")

        def read_digest() -> tuple[int, chain.Digest]:
            return app.ledger.head_position(), chain.digest(app.ledger.reader)

        position, digest = await _from_store(app, read_digest, min_position)
        value = {"digest": str(digest), "events": digest.ordinal, "position": position}
        await answer_json(send, 200, value)
    else:
        raise HttpError(404, "not_found", f"no such path: /v1/{'/'.join(route)}")
    return 200


async def _job_logs(app: Served, request: Request, send: Send, company: str | None, min_position: int) -> int:
    sort_by = choice(request, "sortBy", list(queries.LOG_SORT_FIELDS), "StartDate")
    direction = choice(request, "sortDirection", list(queries.DIRECTIONS), "Descending")
    # A page is at most 1000 rows, as a page of details is: past it, the cursors page on.
    limit = request.integer("numRows", None, least=1, most=queries.MAX_PER_PAGE)
    cursor = request.text("cursor")
    before = bool(request.flag("before"))
    filters: dict[str, Any] = {
        "company": company,
        "user": request.text("userHandle"),
        "since": request.moment("startDate"),
        "until": request.moment("endDate"),
        "sort_by": sort_by,
        "direction": direction,
        "outcome": one_of(request, "outcome", OUTCOMES),
        "state": one_of(request, "state", JOB_STATES),
        "job_type": checked(request, "type", checks.job_type),
        "server": request.text("serverName", "server"),
        "deleted": request.flag("deleted"),
    }
    if cursor is None and not before and limit is None:
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
    sort_by = choice(request, "sortBy", list(queries.DETAIL_SORT_FIELDS), "Date")
    direction = choice(request, "sortDirection", list(queries.DIRECTIONS), "Ascending")
    per_page = request.integer("recordsPerPage", queries.MAX_PER_PAGE, least=1, most=queries.MAX_PER_PAGE)
    page = request.integer("resultsPage", 1, least=1, most=checks.MAX_PAGE)
    types = log_types(request)
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


async def _state(
    app: Served, request: Request, send: Send, handle: str, company: str | None, min_position: int
) -> int:
    as_of = request.moment("asOf")
    # Any integer, and both together: the ledger says which versions a run has, as state_at does.
    version = request.integer("version", None, least=-(2**63), most=2**64 - 1)

    def read() -> tuple[int, Aggregate]:
        # The head first: the state read after it reflects at least that position.
        head = app.ledger.head_position()
        if as_of is None and version is None:
            return head, app.ledger.get(handle, company)
        return head, app.ledger.state_at(handle, as_of=as_of, version=version, company=company)

    position, state = await _from_store(app, read, min_position)
    value = {"job": job_record(state, last_event=True), "version": state.version, "position": position}
    await answer_json(send, 200, value)
    return 200


async def _history(
    app: Served, send: Send, handle: str, company: str | None, min_position: int, limit: int | None
) -> int:
    def read() -> tuple[int, list[dict[str, Any]]]:
        head = app.ledger.head_position()
        return head, [event_record(event) for event in app.ledger.history(handle, company, limit)]

    position, records = await _from_store(app, read, min_position)
    await answer_json(send, 200, {"jobHandle": handle, "events": records, "position": position})
    return 200


async def _from_store(app: Served, read: Callable[[], tuple[int, T]], min_position: int) -> tuple[int, T]:
    """`read` of the store (the head it read first, and what it read after), once the head is at
    `min_position`: a position not yet stored is waited for as the views' queries wait for it (the
    views never pass the store), and after as long, ViewsBehindError (503)."""
    answer: tuple[int, T] = await app.read(read)
    if answer[0] < min_position:
        await app.views.query(_nothing, min_position)
        answer = await app.read(read)
    return answer


def _nothing(db: object) -> None:
    """A read of the views that reads nothing: a query only to wait for their position."""
