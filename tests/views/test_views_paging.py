"""getJobLogs in keyset pages (projections/paging.py): walked forward or backward, the pages are
exactly `job_logs`, for every sort, with equal and NULL sort values; a cursor of another sort or no
cursor at all is one clear error; a page deep in the views reads an index range, not the table."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from paging_support import (
    SORTS,
    catalogue_runs,
    null_sort_values,
    record_runs,
    walk_backward,
    walk_forward,
)
from views_support import OPTIMIZE, at

from jobledger.domain.commands import Submit
from jobledger.domain.errors import InvalidFieldError, LedgerError, RuleError
from jobledger.projections import queries
from jobledger.projections.database import ViewsDatabase
from jobledger.projections.paging import InvalidCursorError, job_logs_page
from jobledger.projections.runner import Projector
from jobledger.service.ledger import JobLedger


@pytest.fixture
def views(job_ledger: JobLedger, projector: Projector) -> ViewsDatabase:
    """Views of 40 runs in 3 companies, many of them sharing a submit or start second and counters."""
    record_runs(job_ledger, catalogue_runs(40))
    projector.catch_up()
    return projector.db


def handles(rows: list[dict[str, Any]]) -> list[str]:
    return [row["jobHandle"] for row in rows]


@pytest.mark.parametrize(("sort_by", "direction"), SORTS)
@pytest.mark.parametrize("company", [None, "c1"])
def test_pages_forward_and_backward_are_job_logs(
    views: ViewsDatabase, sort_by: str, direction: str, company: str | None
) -> None:
    query = {"sort_by": sort_by, "direction": direction, "company": company}
    expected = queries.job_logs(views, **query)
    assert len(expected) > 10
    for limit in (1, 3, 7, len(expected), 1000):
        forward = walk_forward(views, limit, **query)
        assert forward == expected
        assert len(set(handles(forward))) == len(forward)
        assert walk_backward(views, limit, **query) == expected


@pytest.mark.parametrize(("sort_by", "direction"), SORTS)
def test_null_sort_values_page_exactly(views: ViewsDatabase, sort_by: str, direction: str) -> None:
    every = handles(queries.job_logs(views))
    null_sort_values(views, every[::3])
    query = {"sort_by": sort_by, "direction": direction}
    expected = queries.job_logs(views, **query)
    nulls = [row for row in expected if row["jobHandle"] in set(every[::3])]
    # SQLite sorts NULL below every value: first when ascending, last when descending.
    assert expected[: len(nulls)] == nulls if direction == "Ascending" else expected[-len(nulls) :] == nulls
    for limit in (1, 2, 5, 13):
        assert walk_forward(views, limit, **query) == expected
        assert walk_backward(views, limit, **query) == expected


@pytest.mark.parametrize(
    "filters",
    [
        {"user": "ken@example.com"},
        {"company": "c2", "state": "Done"},
        {"outcome": "Success"},
        {"state": "New"},
        {"job_type": "ImageOptimization"},
        {"server": "ips-app-01", "deleted": False},
        {"since": at(3), "until": at(7)},
        {"company": "c0", "since": at(5)},
        {"company": "c0", "user": "nobody@example.com"},
    ],
)
@pytest.mark.parametrize(
    ("sort_by", "direction"), [("StartDate", "Descending"), ("FileErrorCount", "Ascending")]
)
def test_filters_are_job_logs_filters(
    views: ViewsDatabase, filters: dict[str, Any], sort_by: str, direction: str
) -> None:
    query = {**filters, "sort_by": sort_by, "direction": direction}
    expected = queries.job_logs(views, **query)
    assert walk_forward(views, 4, **query) == expected
    assert walk_backward(views, 4, **query) == expected


def test_empty_views_have_one_empty_page(projector: Projector) -> None:
    projector.catch_up()
    for before in (False, True):
        page = job_logs_page(projector.db, before=before)
        assert (page.rows, page.next_cursor, page.previous_cursor) == ([], None, None)


def test_runs_added_between_pages_neither_repeat_nor_skip_a_row(
    views: ViewsDatabase, job_ledger: JobLedger, projector: Projector
) -> None:
    before = queries.job_logs(views)
    first = job_logs_page(views, limit=10)
    # Newer runs sort first (StartDate Descending): an OFFSET page 2 would repeat rows of page 1.
    job_ledger.record(
        [Submit(company="c0", name=f"late-{j}", payload=OPTIMIZE, at=at(1000 + j)) for j in range(5)]
    )
    projector.catch_up()
    second = job_logs_page(views, cursor=first.next_cursor, limit=10)
    assert first.rows + second.rows == before[:20]
    assert queries.job_logs(views, limit=25)[15:25] == before[10:20]


def test_a_cursor_row_that_left_the_filter(
    views: ViewsDatabase, job_ledger: JobLedger, projector: Projector
) -> None:
    query: dict[str, Any] = {"state": "Running", "sort_by": "JobName", "direction": "Ascending"}
    running = queries.job_logs(views, **query)
    first = job_logs_page(views, limit=2, **query)
    assert first.rows == running[:2]
    for row in first.rows:  # both runs of the first page finish: they leave the filter
        job_ledger.complete(row["jobHandle"], at=at(500))
    projector.catch_up()
    second = job_logs_page(views, cursor=first.next_cursor, limit=2, **query)
    assert second.rows == running[2:4]
    assert second.previous_cursor is None  # nothing Running sorts before it any more
    third = job_logs_page(views, cursor=second.next_cursor, limit=2, **query)
    assert third.previous_cursor is not None
    assert (
        job_logs_page(views, cursor=third.previous_cursor, before=True, limit=2, **query).rows == second.rows
    )


def test_a_page_inside_the_callers_read_transaction(views: ViewsDatabase) -> None:
    with views.reading():  # as the server reads: one snapshot for the whole request
        page = job_logs_page(views, limit=5)
        assert page.rows == queries.job_logs(views, limit=5)
    assert not views.conn.in_transaction


def test_the_cursor_is_base64url_of_sort_value_and_handle(views: ViewsDatabase) -> None:
    page = job_logs_page(views, limit=3, sort_by="FileErrorCount", direction="Ascending")
    assert page.next_cursor is not None
    assert set(page.next_cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    decoded = json.loads(base64.urlsafe_b64decode(page.next_cursor + "=" * (-len(page.next_cursor) % 4)))
    assert decoded == [
        "FileErrorCount",
        "Ascending",
        page.rows[-1]["fileErrorCount"],
        page.rows[-1]["jobHandle"],
    ]


def _cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor",
        "!!!!",
        "A",  # a length base64 cannot have
        "x" * 9000,
        "é",
        base64.urlsafe_b64encode(b"\xff\xfe binary").decode(),
        _cursor("StartDate", "Descending"),  # too short
        _cursor("StartDate", "Descending", "2026-01-01T09:00:00.000000Z", "c0||x", "more"),
        _cursor("StartDate", "Descending", "2026-01-01T09:00:00.000000Z", 7),  # handle not text
        _cursor("StartDate", "Descending", 5, "c0||x"),  # a number for a time
        _cursor("StartDate", "Descending", True, "c0||x"),
        _cursor("StartDate", "Descending", ["a"], "c0||x"),
        base64.urlsafe_b64encode(b'{"sort_by": "StartDate"}').decode(),
    ],
)
def test_garbage_cursors_are_one_clear_error(views: ViewsDatabase, cursor: str) -> None:
    with pytest.raises(InvalidCursorError) as raised:
        job_logs_page(views, cursor=cursor)
    assert isinstance(raised.value, InvalidFieldError | RuleError | LedgerError)
    message = str(raised.value)
    assert message.startswith("invalid cursor: ")
    assert "\n" not in message
    assert len(message) < 200


def test_a_count_cursor_needs_a_number(views: ViewsDatabase) -> None:
    with pytest.raises(InvalidCursorError, match="FileErrorCount value has the wrong type"):
        job_logs_page(
            views,
            cursor=_cursor("FileErrorCount", "Ascending", "0", "c0||x"),
            sort_by="FileErrorCount",
            direction="Ascending",
        )


@pytest.mark.parametrize(("sort_by", "direction"), [("StartDate", "Ascending"), ("JobName", "Descending")])
def test_a_cursor_of_another_sort_is_refused(views: ViewsDatabase, sort_by: str, direction: str) -> None:
    cursor = job_logs_page(views, limit=2).next_cursor  # StartDate Descending
    assert cursor is not None
    with pytest.raises(InvalidCursorError) as raised:
        job_logs_page(views, cursor=cursor, sort_by=sort_by, direction=direction)
    assert str(raised.value) == (
        f"invalid cursor: it was made for sortBy StartDate Descending, not {sort_by} {direction};"
        " start again without a cursor"
    )


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": queries.MAX_PER_PAGE + 1}, "limit"),
        ({"sort_by": "Size"}, "sortBy"),
        ({"direction": "Up"}, "sortDirection"),
    ],
)
def test_bad_arguments_are_invalid_fields(
    views: ViewsDatabase, arguments: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidFieldError) as raised:
        job_logs_page(views, **arguments)
    assert raised.value.field == field


# --- speed: an index range, whatever the depth -------------------------------------------------


@pytest.fixture
def many(job_ledger: JobLedger, projector: Projector) -> ViewsDatabase:
    """600 runs of one company and 300 of another, one second apart."""
    job_ledger.record(
        [Submit(company=f"c{j % 3 // 2}", name=f"run-{j}", payload=OPTIMIZE, at=at(j)) for j in range(900)]
    )
    projector.catch_up()
    return projector.db


class Spy:
    """The statements a page runs, and how many SQLite VM steps (in hundreds) they take."""

    def __init__(self, db: ViewsDatabase) -> None:
        self.db = db
        self.statements: list[tuple[str, list[Any]]] = []
        self.steps = 0

    def __enter__(self) -> Spy:
        self.query = self.db.query
        self.db.query = self._query  # type: ignore[method-assign]
        self.db.conn.set_progress_handler(self._tick, 100)
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.conn.set_progress_handler(None, 0)
        del self.db.query

    def _tick(self) -> int:
        self.steps += 1
        return 0

    def _query(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        self.statements.append((sql, list(params)))
        return self.query(sql, params)

    def plans(self) -> Iterator[str]:
        for sql, params in self.statements:
            yield "\n".join(row[-1] for row in self.db.conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


def _deep_cursor(db: ViewsDatabase, depth: int, **query: Any) -> str:
    """The cursor of the page that ends `depth` rows in (walked there page by page)."""
    page = job_logs_page(db, limit=depth, **query)
    assert page.next_cursor is not None
    return page.next_cursor


@pytest.mark.parametrize("direction", ["Descending", "Ascending"])
@pytest.mark.parametrize("window", [{}, {"since": at(-10), "until": at(10_000)}])
def test_a_deep_page_reads_an_index_range(
    many: ViewsDatabase, direction: str, window: dict[str, Any]
) -> None:
    query = {"company": "c0", "direction": direction, **window}
    with Spy(many) as first:
        job_logs_page(many, limit=10, **query)
    cursor = _deep_cursor(many, 580, **query)
    with Spy(many) as deep:
        page = job_logs_page(many, cursor=cursor, limit=10, **query)
    assert page.rows == queries.job_logs(many, **query)[580:590]
    page_sql, probe_sql = deep.plans()
    # The page: a search of the (companyHandle, STARTED, jobHandle) index from the cursor on, no sort.
    bound = "<expr><?" if direction == "Descending" else "<expr>>?"
    assert page_sql.startswith("SEARCH job_logs USING INDEX ix_job_logs_")
    assert "(companyHandle=? AND <expr>" in page_sql
    assert bound in page_sql
    assert "TEMP B-TREE" not in page_sql
    assert "TEMP B-TREE" not in probe_sql
    # And it costs what the first page costs: an OFFSET, or a range the cursor did not bound
    # (since/until taken instead of it), would step through the 580 rows before it.
    assert deep.steps <= first.steps + 2, (first.steps, deep.steps)
