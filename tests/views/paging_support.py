"""Helpers for the keyset paging tests: runs with many equal sort values, and walks through pages.

Imported as `paging_support` by the paging tests of this folder (the name is unique in the tree).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from views_support import EXPORT, METADATA, OPTIMIZE, PUBLISH, UPLOAD, at

from jobledger.domain.commands import Command, Complete, Start, Submit
from jobledger.domain.events import Counters
from jobledger.projections import paging, queries
from jobledger.projections.database import ViewsDatabase
from jobledger.service.ledger import JobLedger

PAYLOADS = [UPLOAD, PUBLISH, METADATA, OPTIMIZE, EXPORT]
COMPANIES = ["c0", "c1", "c2"]
NAMES = ["nightly", "spring", "sync"]
USERS = ["ana@example.com", "ken@example.com", "bot@example.org"]
SORTS = [(sort_by, direction) for sort_by in queries.LOG_SORT_FIELDS for direction in queries.DIRECTIONS]
# The view columns each sort reads (StartDate: its coalesce falls back to submitDate).
SORT_COLUMNS = {
    sort_by: ("startDate", "submitDate") if sort_by == "StartDate" else (column,)
    for sort_by, column in queries.LOG_SORT_FIELDS.items()
}


@dataclass(frozen=True)
class Run:
    """One run to record: small ranges, so that sort values repeat across runs."""

    company: int
    name: int
    user: int
    payload: int
    submitted: int  # seconds after T0
    started: int | None = None  # seconds after its submit; None: never started
    counters: tuple[int, int, int] | None = None  # success, error, warning; None: not completed


def record_runs(ledger: JobLedger, runs: list[Run]) -> list[str]:
    """Record the runs through the batch API; their handles."""
    submits = [
        Submit(
            company=COMPANIES[run.company],
            name=NAMES[run.name],
            payload=PAYLOADS[run.payload],
            user_email=USERS[run.user],
            at=at(run.submitted),
        )
        for run in runs
    ]
    handles = [job.jobHandle for job in ledger.record(submits)]
    commands: list[Command] = []
    for run, handle in zip(runs, handles, strict=True):
        if run.started is None:
            continue
        moment = run.submitted + run.started
        commands.append(Start(handle=handle, server="ips-app-01", at=at(moment)))
        if run.counters is not None:
            success, error, warning = run.counters
            counters = Counters(fileSuccessCount=success, fileErrorCount=error, fileWarningCount=warning)
            commands.append(Complete(handle=handle, counters=counters, at=at(moment + 1)))
    if commands:
        ledger.record(commands)
    return handles


def catalogue_runs(count: int) -> list[Run]:
    """A fixed mix: many runs submitted in the same second, started together, with equal counters."""
    runs = []
    for j in range(count):
        started = None if j % 4 == 0 else (j % 3) * 5
        counters = None if started is None or j % 5 == 0 else (j % 3, j % 2, 0)
        runs.append(Run(j % 3, j % 2, j % 3, j % 5, j // 4, started, counters))
    return runs


def null_sort_values(db: ViewsDatabase, handles: list[str]) -> None:
    """Store NULL in every sortable column of these runs' job-log rows.

    The ledger never writes one (each is a required field, and StartDate falls back to submitDate),
    but the table does not forbid it, and a page must stay exact for any row the table can hold.
    """
    columns = sorted({column for names in SORT_COLUMNS.values() for column in names})
    assignments = ", ".join(f"[{column}] = NULL" for column in columns)
    with db.writing():
        db.conn.executemany(f"UPDATE job_logs SET {assignments} WHERE jobHandle = ?", [(h,) for h in handles])


def walk_forward(db: ViewsDatabase, limit: int, **query: Any) -> list[dict[str, Any]]:
    """Every row, page by page from the first with next_cursor; checks each page's cursors and size,
    and that the next page's previous_cursor leads back to the very same page."""
    rows: list[dict[str, Any]] = []
    page = paging.job_logs_page(db, limit=limit, **query)
    assert page.previous_cursor is None
    for _ in range(10_000):
        rows += page.rows
        if page.next_cursor is None:
            assert len(page.rows) <= limit
            return rows
        assert len(page.rows) == limit
        following = paging.job_logs_page(db, cursor=page.next_cursor, limit=limit, **query)
        assert following.previous_cursor is not None
        back = paging.job_logs_page(db, cursor=following.previous_cursor, before=True, limit=limit, **query)
        assert back.rows == page.rows
        page = following
    raise AssertionError("the pages never ended")


def walk_backward(db: ViewsDatabase, limit: int, **query: Any) -> list[dict[str, Any]]:
    """Every row, page by page from the last (`before` without a cursor) with previous_cursor."""
    pages: list[list[dict[str, Any]]] = []
    page = paging.job_logs_page(db, before=True, limit=limit, **query)
    assert page.next_cursor is None
    for _ in range(10_000):
        pages.append(page.rows)
        if page.previous_cursor is None:
            assert len(page.rows) <= limit
            return [row for rows in reversed(pages) for row in rows]
        assert len(page.rows) == limit
        page = paging.job_logs_page(db, cursor=page.previous_cursor, before=True, limit=limit, **query)
    raise AssertionError("the pages never ended")
