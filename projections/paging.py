"""getJobLogs in keyset pages: a page reads an index range next to the row it continues from.

An OFFSET page reads and throws away every row before it, so page 5,000 of a million runs is slow.
A keyset page instead starts after (or before) one row's sort value and jobHandle, which the order
`<sort> <dir>, jobHandle <dir>` of `job_logs` ranks uniquely (a handle names one run). Callers get
that position as an opaque cursor: base64url of a small JSON array, `[sortBy, sortDirection, value,
jobHandle]`, valid only for the sort it was made for.

Three things SQLite (3.40, no ANALYZE statistics) decides shape the conditions; the tests check
the plan, and that a deep page takes no more VM steps than the first:
- It does not match a row value `(expr, jobHandle) < (?, ?)` to an index on an expression, and the
  default sort is on one (job_logs.STARTED); `expr <= ? AND (expr < ? OR jobHandle < ?)` does use it.
- Of two range terms on one side it takes the first written: the cursor's goes before since/until.
- NULL sorts below every value, and no comparison with NULL is true, so a NULL sort value needs
  conditions of its own. The ledger never stores one (every sort column is a required field, and
  STARTED falls back to submitDate), but the table does not forbid it: a page stays exact anyway.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import msgspec

from jobledger.domain.errors import InvalidFieldError
from jobledger.projections.database import ViewsDatabase
from jobledger.projections.queries import (
    DIRECTIONS,
    JOB_LOG_COLUMNS,
    LOG_SORT_FIELDS,
    MAX_PER_PAGE,
    job_log_records,
    job_logs_where,
)
from jobledger.projections.views import VIEWS

_REVERSED = {"ASC": "DESC", "DESC": "ASC"}
# A handle is at most 1024 characters and a sort value 256: a real cursor is far shorter than this.
_MAX_CURSOR = 8192
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_COLUMN_KINDS = dict(zip(VIEWS["job_logs"].codec.columns, VIEWS["job_logs"].codec.kinds, strict=True))
# The type a cursor's sort value must have: the counters are integers, the rest (STARTED too) text.
_VALUE_TYPES = {
    sort_by: int if _COLUMN_KINDS.get(column) == "integer" else str
    for sort_by, column in LOG_SORT_FIELDS.items()
}

Value = str | int | None


DEFAULT_PAGE = 100


class InvalidCursorError(InvalidFieldError):
    """A cursor that is not one this query made, or was made for another sort."""

    def __init__(self, problem: str) -> None:
        super().__init__("cursor", problem)


class JobLogsPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of getJobLogs and the cursors of its neighbours (None where there is none)."""

    rows: list[dict[str, Any]]
    next_cursor: str | None
    previous_cursor: str | None


class _Position(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """Where a page starts or ends: a row's sort value and handle, under the sort that ranks it."""

    sort_by: str
    direction: str
    value: Value
    handle: str


_decode_position = msgspec.json.Decoder(_Position).decode


def _encode(position: _Position) -> str:
    """The opaque text of a position: base64url without padding (safe in a query string)."""
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).rstrip(b"=").decode()


def _decode(cursor: str, sort_by: str, direction: str) -> _Position:
    """The position a cursor holds, or InvalidCursorError, if it is not one for this sort."""
    if len(cursor) > _MAX_CURSOR or not _BASE64URL.fullmatch(cursor):
        raise InvalidCursorError("not a cursor of getJobLogs")
    try:
        position = _decode_position(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, msgspec.DecodeError):  # ValidationError is a DecodeError
        raise InvalidCursorError("not a cursor of getJobLogs") from None
    if (position.sort_by, position.direction) != (sort_by, direction):
        raise InvalidCursorError(
            f"it was made for sortBy {position.sort_by} {position.direction},"
            f" not {sort_by} {direction}; start again without a cursor"
        )
    if position.value is not None and type(position.value) is not _VALUE_TYPES[sort_by]:
        raise InvalidCursorError(f"its {sort_by} value has the wrong type")
    return position


def _after(column: str, order: str, value: Value, handle: str) -> list[tuple[str, list[Any]]]:
    """The rows after (value, handle) in `ORDER BY column order, jobHandle order`, as conditions
    for consecutive runs of rows, read one after another; each can be an index range."""
    if order == "ASC":  # NULLs come first
        if value is None:
            return [(f"{column} IS NULL AND jobHandle > ?", [handle]), (f"{column} IS NOT NULL", [])]
        return [(f"{column} >= ? AND ({column} > ? OR jobHandle > ?)", [value, value, handle])]
    if value is None:  # DESC: NULLs come last
        return [(f"{column} IS NULL AND jobHandle < ?", [handle])]
    return [
        (f"{column} <= ? AND ({column} < ? OR jobHandle < ?)", [value, value, handle]),
        (f"{column} IS NULL", []),
    ]


def _select(
    what: str, filters: tuple[list[str], list[Any]], condition: str | None, values: list[Any]
) -> tuple[str, list[Any]]:
    """`SELECT what FROM job_logs WHERE` one run's condition and the filters, and its parameters."""
    clauses, params = filters
    where = [condition, *clauses] if condition else clauses  # the cursor's range first: see above
    sql = f"SELECT {what} FROM job_logs" + (f" WHERE {' AND '.join(where)}" if where else "")
    return sql, [*values, *params]


def _read(
    db: ViewsDatabase,
    filters: tuple[list[str], list[Any]],
    column: str,
    order: str,
    start: tuple[Value, str] | None,
    wanted: int,
) -> list[tuple[Any, ...]]:
    """Up to `wanted` rows in this order after `start` (from the first row without one), each with
    its jobHandle and sort value last (see _key)."""
    runs: list[tuple[str | None, list[Any]]] = (
        [(None, [])] if start is None else [*_after(column, order, *start)]
    )
    found: list[tuple[Any, ...]] = []
    for condition, values in runs:
        sql, params = _select(f"{JOB_LOG_COLUMNS}, jobHandle, {column}", filters, condition, values)
        found += db.query(
            f"{sql} ORDER BY {column} {order}, jobHandle {order} LIMIT ?", [*params, wanted - len(found)]
        )
        if len(found) >= wanted:
            break
    return found


def _any_after(
    db: ViewsDatabase, filters: tuple[list[str], list[Any]], column: str, order: str, start: tuple[Value, str]
) -> bool:
    """Whether any row comes after `start` in this order: without ORDER BY, the first found will do,
    which matters for a sort no index serves."""
    for condition, values in _after(column, order, *start):
        sql, params = _select("1", filters, condition, values)
        if db.query(f"{sql} LIMIT 1", params):
            return True
    return False


def _key(row: Sequence[Any]) -> tuple[Value, str]:
    """The position of a row _read returned: its sort value and jobHandle."""
    return row[-1], row[-2]


@contextmanager
def _snapshot(db: ViewsDatabase) -> Iterator[None]:
    """One read transaction for the page and its probes; the caller's, if it holds one already."""
    if db.conn.in_transaction:
        yield
        return
    with db.reading():
        yield


def job_logs_page(
    db: ViewsDatabase,
    *,
    cursor: str | None = None,
    before: bool = False,
    limit: int = DEFAULT_PAGE,
    company: str | None = None,
    user: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sort_by: str = "StartDate",
    direction: str = "Descending",
    outcome: str | None = None,
    state: str | None = None,
    job_type: str | None = None,
    server: str | None = None,
    deleted: bool | None = None,
) -> JobLogsPage:
    """getJobLogs one page at a time: the `limit` rows after `cursor` (from the first row without
    one), or with `before` the rows before it (the last page without one). Rows and their order are
    exactly `job_logs`' for the same filters and sort. An empty page (nothing matches, or nothing
    lies past the cursor) has no cursors: start again from the first page."""
    if sort_by not in LOG_SORT_FIELDS:
        raise InvalidFieldError("sortBy", f"{sort_by!r} is not one of {', '.join(LOG_SORT_FIELDS)}")
    if direction not in DIRECTIONS:
        raise InvalidFieldError("sortDirection", f"{direction!r} is not one of {', '.join(DIRECTIONS)}")
    if not 1 <= limit <= MAX_PER_PAGE:
        raise InvalidFieldError("limit", f"{limit} is not between 1 and {MAX_PER_PAGE}")
    position = None if cursor is None else _decode(cursor, sort_by, direction)
    start = None if position is None else (position.value, position.handle)
    where = job_logs_where(
        company=company,
        user=user,
        since=since,
        until=until,
        outcome=outcome,
        state=state,
        job_type=job_type,
        server=server,
        deleted=deleted,
    )
    filters = (where.clauses, where.params)
    column, order = LOG_SORT_FIELDS[sort_by], DIRECTIONS[direction]
    reading = _REVERSED[order] if before else order
    with _snapshot(db):
        found = _read(db, filters, column, reading, start, limit + 1)
        page = found[:limit]
        # Onward, the way the page was read, the one extra row tells. Back towards the cursor there
        # is nothing on the first page (the last, with `before`); past a cursor, one probe asks,
        # since the cursor's own row may have left the filters (a run that is no longer Running).
        onward = len(found) > limit
        back = (
            start is not None
            and bool(page)
            and _any_after(db, filters, column, _REVERSED[reading], _key(page[0]))
        )
    if before:
        page.reverse()
    ahead, behind = (back, onward) if before else (onward, back)
    return JobLogsPage(
        rows=job_log_records(row[:-2] for row in page),
        next_cursor=_encode(_Position(sort_by, direction, *_key(page[-1]))) if ahead else None,
        previous_cursor=_encode(_Position(sort_by, direction, *_key(page[0]))) if behind else None,
    )
