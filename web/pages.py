"""What each page shows: read from the views (and, for one run, its history), for one caller.

Every read is scoped as the API scopes it: a company token sees its company only, and another
company's run is 404 here as there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from jobledger.projections import checks, paging, queries
from jobledger.projections.active_jobs import stalled
from jobledger.projections.database import ViewsDatabase
from jobledger.server.app import LedgerApp
from jobledger.server.auth import Caller
from jobledger.server.errors import HttpError
from jobledger.server.http import Request
from jobledger.server.query_params import checked, each, one_of
from jobledger.server.stream import Filter

from . import charts
from . import format as fmt
from .verification import Verifier

Page = tuple[str, dict[str, Any]]
MAX_ACTIVE_ROWS = 500
LOG_PAGE = 50
EVENT_PAGE = 100
MAX_SCAN = 10_000  # events read for one page of the event log, at most
JOB_STATES = ("New", "Running", "Stopping")
# Whether a caller may press each action's button (the API's own check of the command is the rule).
ACTION_ALLOWED: dict[str, Callable[[Caller], bool]] = {
    "stop": lambda caller: caller.drives,
    **{action: lambda caller: caller.manages for action in ("delete", "pause", "resume", "execute")},
}
OUTCOMES = ("success", "warnings", "errors", "fatal", "stopped")
# The events that change a row of the active list: the live page listens to these only.
ACTIVE_EVENTS = ("Submitted", "Started", "ProgressUpdated", "StopRequested", "Completed", "Deleted")
EVENT_NAMES = (
    *ACTIVE_EVENTS[:3],
    "DetailLogged",
    *ACTIVE_EVENTS[3:],
    "Scheduled",
    "Paused",
    "Resumed",
    "Fired",
    "ScheduleDeleted",
    "ScheduleCompleted",
)
SCHEDULE_FIELDS = (*queries.SCHEDULED_FIELDS, "lastFireTime", "lastRunHandle", "runCount")


class Pages:
    """The dashboard's pages: a template and its values, for a request and its caller."""

    def __init__(self, api: LedgerApp, verifier: Verifier) -> None:
        self.api = api
        self.verifier = verifier

    async def active(self, request: Request, caller: Caller) -> Page:
        company = caller.company(request.text("company"))
        waiting = request.text("waiting") != "0"
        filters = {
            "company": company,
            "state": one_of(request, "state", JOB_STATES),
            "job_type": checked(request, "type", checks.job_type),
            "server": request.text("server") or None,
            "original_name": request.text("originalName") or None,
            "job": request.text("jobHandle") or None,
        }
        rows, position = await self.api.views.query(
            lambda db: queries.active_jobs(db, include_waiting=waiting, limit=MAX_ACTIVE_ROWS + 1, **filters),
            request.integer("minPosition", 0, least=0) or 0,
        )
        companies: list[str] = []
        if caller.sees_all:
            companies, _ = await self.api.views.query(queries.companies)
        now = datetime.now(UTC)
        for row in rows:
            _annotate(row, now)
        values = {
            "rows": rows[:MAX_ACTIVE_ROWS],
            "more": len(rows) > MAX_ACTIVE_ROWS,
            "position": position,
            "filters": {**filters, "waiting": waiting},
            "states": JOB_STATES,
            "companies": companies,
            "live_query": urlencode(
                {"name": ",".join(ACTIVE_EVENTS), **({"companyHandle": company} if company else {})}
            ),
            "fragment_query": urlencode(
                {key: value for key, value in request.query.items() if key != "notice"}
            ),
        }
        return "active.html", values

    async def logs(self, request: Request, caller: Caller) -> Page:
        company = caller.company(request.text("company"))
        sort_by = request.choice("sortBy", list(queries.LOG_SORT_FIELDS), "StartDate")
        direction = request.choice("sortDirection", list(queries.DIRECTIONS), "Descending")
        filters: dict[str, Any] = {
            "company": company,
            "user": request.text("userHandle") or None,
            "since": _moment(request, "startDate"),
            "until": _moment(request, "endDate"),
            "outcome": one_of(request, "outcome", OUTCOMES),
            "sort_by": sort_by,
            "direction": direction,
        }
        cursor = request.text("cursor") or None
        before = request.text("before") == "1"
        page, position = await self.api.views.query(
            lambda db: paging.job_logs_page(db, cursor=cursor, before=before, limit=LOG_PAGE, **filters)
        )
        kept = {
            key: value
            for key, value in request.query.items()
            if key not in ("cursor", "before", "notice") and value
        }
        values = {
            "rows": page.rows,
            "next_cursor": page.next_cursor,
            "previous_cursor": page.previous_cursor,
            "kept": kept,
            "position": position,
            "sort_fields": list(queries.LOG_SORT_FIELDS),
            "outcomes": OUTCOMES,
            "query": request.query,
        }
        return "logs.html", values

    async def run(self, request: Request, caller: Caller) -> Page:
        handle = request.segments[1]
        scope = caller.scope
        record = await self.api.job(handle, scope)
        history = await self.api.history_records(handle, scope)
        for event in history:
            event["summary"] = fmt.summary(event["fields"])
        values: dict[str, Any] = {"job": record, "history": history, "handle": handle}
        if "triggerState" in record:
            values["runs"] = [
                {
                    "handle": event["fields"]["runHandle"],
                    "time": event["fields"]["fireTime"],
                    "manual": event["fields"].get("manual", False),
                }
                for event in reversed(history)
                if event["event"] == "Fired"
            ]
            return "schedule.html", values
        per_page = request.integer("perPage", 100, least=1, most=queries.MAX_PER_PAGE) or 100
        page_number = request.integer("page", 1, least=1) or 1
        log_types = each(request, "logType", checks.log_type)

        def read(db: ViewsDatabase) -> tuple[dict[str, Any], dict[str, int], list[dict[str, Any]]]:
            # One snapshot: the page's details, their types and its live row agree.
            return (
                queries.job_log_details(
                    db, handle, company=scope, log_types=log_types, page=page_number, per_page=per_page
                ),
                queries.detail_log_types(db, handle),
                queries.active_jobs(db, job=handle, company=scope, include_waiting=True, limit=1),
            )

        (details, kinds, live), _ = await self.api.views.query(read)
        row = _annotate(live[0], datetime.now(UTC)) if live else {}
        values.update(eta=row.get("eta"), stalled=row.get("stalled", False), age=row.get("age", ""))
        total = int(details.get("detailTotalRows") or 0)
        values.update(
            details=details["detailArray"],
            page=page_number,
            per_page=per_page,
            pages=max(1, -(-total // per_page)),
            kinds=kinds,
            log_types=log_types,
            total=total,
            detail_query=lambda number: urlencode(
                [*(("logType", name) for name in log_types), ("perPage", per_page), ("page", number)]
            ),
        )
        return "run.html", values

    async def schedules(self, request: Request, caller: Caller) -> Page:
        company = caller.company(request.text("company"))
        rows, position = await self.api.views.query(
            lambda db: queries.scheduled_jobs(db, company=company, fields=SCHEDULE_FIELDS)
        )
        return "schedules.html", {"rows": rows, "position": position, "company": company or ""}

    async def activity(self, request: Request, caller: Caller) -> Page:
        company = caller.company(request.text("company"))
        now = datetime.now(UTC)
        since = now - timedelta(hours=24)
        minutes, position = await self.api.views.query(lambda db: queries.activity(db, since, company))
        started, finished = charts.hourly(minutes, now)
        values = {
            "started": started,
            "finished": finished,
            "events": charts.per_minute(minutes, now),
            "outcome_colours": charts.OUTCOME_COLOURS,
            "company": company or "",
            "position": position,
        }
        return "activity.html", values

    async def audit(self, request: Request, caller: Caller) -> Page:
        company = caller.company(request.text("company"))
        name = request.text("event") or None
        head = await self.api.read(self.api.ledger.head_position)
        before = min(request.integer("before", head + 1, least=1) or head + 1, head + 1)
        names = frozenset({name}) if name else frozenset()
        wanted = Filter(company=company, names=names, tokens=caller.manages)
        entries, scanned_from = await self._newest(wanted, before)
        records = [entry.record() for entry in entries[:EVENT_PAGE]]
        for record in records:
            record["summary"] = fmt.summary(record["fields"])
        older = None
        if len(entries) > EVENT_PAGE:  # more were found than a page shows
            older = records[-1]["position"]
        elif scanned_from > 0:  # the scan stopped before the first event
            older = scanned_from + 1
        live = {"name": name} if name else {}
        values: dict[str, Any] = {
            "events": records,
            "head": head,
            "before": before if before <= head else None,
            "older": older,
            "scanned": before - 1 - scanned_from,
            "company": company or "",
            "event_name": name or "",
            "event_names": EVENT_NAMES,
            "digest": None,
            "verification": self.verifier.last,
            "live_query": urlencode({**live, **({"companyHandle": company} if company else {})}),
        }
        if caller.sees_all:
            values["digest"], values["digest_events"] = await self.api.digest()
        return "audit.html", values

    async def _newest(self, wanted: Filter, before: int) -> tuple[list[Any], int]:
        """The newest events before position `before` that pass the filter (EVENT_PAGE of them,
        or more when a window held more), newest first, read backwards in growing windows (at
        most MAX_SCAN events a page, so a rare filter on a large ledger answers quickly); and the
        position the scan went down to."""
        found: list[Any] = []
        upto, window = before - 1, EVENT_PAGE * 20
        while upto > 0 and len(found) < EVENT_PAGE and before - 1 - upto < MAX_SCAN:
            start = max(0, upto - window, before - 1 - MAX_SCAN)
            page = await self.api.stream.history(start, upto, wanted, None)
            found.extend(reversed(page))
            upto, window = start, min(window * 2, MAX_SCAN)
        return found, upto

    async def confirm(self, request: Request, caller: Caller) -> Page:
        """The no-JavaScript confirmation of an action: one button that does it."""
        action, handle = request.text("action") or "", request.text("handle") or ""
        if not action or not handle:
            raise HttpError(400, "bad_query", "confirm needs an action and a handle")
        await self.api.job(handle, caller.scope)  # 404 for another company's
        if action not in ACTION_ALLOWED:
            raise HttpError(404, "not_found", f"no action {action}")
        if not ACTION_ALLOWED[action](caller):  # a button the role may not press is not shown
            raise HttpError(403, "forbidden", f"this token's role may not {action} runs or schedules")
        back = fmt.local_path(request.text("back"))  # a link and a redirect: never off the site
        return "confirm.html", {"action": action, "handle": handle, "back": back}


def _annotate(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A live run's row (active_jobs) with what the pages show besides its fields: whether it is
    stalled, its age and how long ago it last reported."""
    row["stalled"] = stalled(row, now)
    row["age"] = fmt.span(now - started) if (started := fmt.moment(row.get("startDate"))) else ""
    row["lastUpdate"] = fmt.ago(row.get("lastProgressUpdate"), now)
    return row


def _moment(request: Request, name: str) -> datetime | None:
    """A time filter as a form's datetime-local gives it (no zone: UTC) or as ISO 8601."""
    value = request.text(name)
    if not value:
        return None
    try:
        return fmt.moment(value.replace(" ", "+"))
    except ValueError:
        raise HttpError(400, "bad_query", f"{name} must be a date and time, got {value!r}") from None
