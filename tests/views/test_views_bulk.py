"""A rebuild's one-pass fold gives exactly the rows of each view's own fold, page by page or whole.

BulkFold evolves each run once for both job_logs and active_jobs and hands detail rows back per
page; these tests hold it to `fold_view` (each view's `apply`, event by event) on histories chosen
for the ETA and liveness edges, cut into pages everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from views_support import (
    completed,
    deleted,
    key_claimed,
    logged,
    progressed,
    started,
    stop_requested,
    submitted,
)

from jobledger.domain.events import DomainEvent
from jobledger.projections.bulk import BulkFold, Rows
from jobledger.projections.rows import iso
from jobledger.projections.runner import fold_view
from jobledger.projections.views import VIEWS, Key

HISTORIES = {
    "live, progress going backwards and standing still": [
        submitted(),
        started(),
        progressed(3, 120, 10),
        progressed(4, 180, 40),
        progressed(5, 240, 20),
        progressed(6, 300, 20),
        logged(7, 310),
        progressed(8, 360, 50),
    ],
    "done after reaching 100%": [
        submitted(),
        started(),
        progressed(3, 120, 50),
        progressed(4, 180, 100),
        logged(5, 190, "UploadSuccess"),
        completed(6, 200),
    ],
    "stopped while new": [key_claimed(), submitted(), stop_requested(2, 30)],
    "deleted while running": [
        submitted(),
        started(),
        progressed(3, 120, 30),
        logged(4, 125),
        deleted(5, 130),
    ],
    "deleted after it was done": [submitted(), started(), logged(3, 90), completed(4, 100), deleted(5, 200)],
    "asked to stop, still live": [submitted(), started(), progressed(3, 90, 5), stop_requested(4, 100)],
    "submitted only": [submitted()],
}


def bulk_rows(events: list[DomainEvent], page_size: int) -> dict[str, dict[Key, Any]]:
    """Every view's rows as a rebuild writes them from BulkFold, fed pages of `page_size` events:
    rows without a slot appended, rows with one written to (or over) that slot."""
    fold = BulkFold(dict(VIEWS))
    tables: dict[str, dict[int, Any]] = {name: {} for name in VIEWS}

    def write(settled: dict[str, Rows]) -> None:
        for table, (rows, slots) in settled.items():
            for row, slot in zip(rows, slots or [None] * len(rows), strict=True):
                tables[table][slot or len(tables[table]) + 1000] = row

    page = [(position, event.originator_id.hex, event) for position, event in enumerate(events, 1)]
    for start in range(0, len(page), page_size):
        write(fold.fold(page[start : start + page_size]))
    write(fold.rest())
    return {
        name: {VIEWS[name].row_key(VIEWS[name].codec.encode(row)): row for row in rows.values()}
        for name, rows in tables.items()
    }


@pytest.mark.parametrize("name", HISTORIES)
@pytest.mark.parametrize("page_size", [1, 2, 3, 100])
def test_the_one_pass_fold_gives_every_views_own_fold(name: str, page_size: int) -> None:
    events = HISTORIES[name]
    expected = {
        view_name: fold_view(view, ((position, event) for position, event in enumerate(events, 1)))
        for view_name, view in VIEWS.items()
    }
    assert bulk_rows(events, page_size) == expected


def test_the_one_pass_fold_keeps_a_live_run_in_active_jobs_with_its_eta() -> None:
    rows = bulk_rows(HISTORIES["live, progress going backwards and standing still"], 2)
    (active,) = rows["active_jobs"].values()
    # Progress fell from 40 to 20 at 240 s, so the rate is measured from there: 30 points in 120 s.
    start = submitted().timestamp
    assert (active.etaAnchorTime, active.etaAnchorProgress) == (start + timedelta(seconds=240), 20)
    assert active.eta == start + timedelta(seconds=360 + 50 * 4)
    assert len(rows["job_log_details"]) == 1


def test_the_one_pass_fold_of_one_view_alone_leaves_out_the_others() -> None:
    fold = BulkFold({"aside": VIEWS["active_jobs"]})
    assert fold.fold([(1, submitted().originator_id.hex, submitted())]) == {}
    assert list(fold.rest()) == ["aside"]
    assert len(fold.rest()["aside"].rows) == 1


times = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7)), timezone(timedelta(hours=5, minutes=30))]),
)


@given(times)
def test_times_are_stored_as_fixed_width_utc_text(value: datetime) -> None:
    text = iso(value)
    assert text == value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"
    assert len(text) == len("2026-11-28T13:00:00.000000Z")


@given(times, times)
def test_stored_times_sort_as_the_times_do(first: datetime, second: datetime) -> None:
    assert (iso(first) < iso(second)) == (first < second)
