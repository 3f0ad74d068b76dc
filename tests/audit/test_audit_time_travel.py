"""`active|logs|scheduled|details --as-of T`: what each view showed at T. The live views are captured
at several moments while a history is written; afterwards every `--as-of` answer must equal them,
with the same filters and formats, and the live views must be left as they were."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from audit_support import OPTIMIZE, Handles, Store, StoreFactory, at, iso, ok, payload, run, write_history
from cli_checks import assert_one_line_error

from jobledger.cli import timefmt

LIST_QUERIES: dict[str, list[tuple[str, ...]]] = {
    "active": [
        ("active", "--format", "json"),
        ("active", "--include-waiting", "--format", "json"),
        ("active", "--company", "acme", "--include-waiting", "--format", "csv"),
        ("active", "--state", "Running", "--format", "ndjson"),
        ("active", "--include-waiting"),
    ],
    "logs": [
        ("logs", "--format", "json"),
        ("logs", "--company", "globex", "--format", "ndjson"),
        (
            "logs",
            "--outcome",
            "stopped",
            "--sort-by",
            "JobName",
            "--direction",
            "Ascending",
            "--format",
            "json",
        ),
        ("logs", "--limit", "2", "--format", "csv"),
        ("logs",),
    ],
    "scheduled": [
        ("scheduled", "--format", "json"),
        ("scheduled", "--company", "globex", "--format", "ndjson"),
        ("scheduled",),
    ],
}


def details_queries(handle: str) -> list[tuple[str, ...]]:
    return [
        ("details", handle, "--format", "json"),
        ("details", handle, "--log-type", "UploadWarning", "--format", "csv"),
        ("details", handle, "--direction", "Descending"),
    ]


@dataclass
class Capture:
    """What the live views answered right after the history reached `moment`."""

    moment: datetime
    answers: dict[tuple[str, ...], str]
    runs: list[str]


@dataclass
class Recorded:
    store: Store
    handles: Handles
    captures: list[Capture]
    late: datetime


@pytest.fixture(scope="module")
def recorded(new_store: StoreFactory) -> Recorded:
    """The history written through the ledger API, with the live views captured after each step;
    then one more run written, which the live views have not yet folded."""
    store = new_store("sqlite")
    handles = Handles()
    captures = []
    ledger = store.open()
    try:
        for moment in write_history(ledger, handles):
            queries = [query for group in LIST_QUERIES.values() for query in group]
            runs = handles.all_runs()
            queries += [query for handle in runs for query in details_queries(handle)]
            with clock_at(moment):
                captures.append(Capture(moment, {query: ok(store, *query) for query in queries}, runs))
        late = at(9000)
        ledger.submit("acme", "late", payload("optimizeImagesJob", OPTIMIZE), at=late)
    finally:
        ledger.close()
    return Recorded(store, handles, captures, late)


@contextmanager
def clock_at(moment: datetime) -> Iterator[None]:
    """The wall clock tables measure ages and "today" from, stopped at MOMENT."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timefmt, "now", lambda: moment)
        patch.setattr(timefmt, "zone", lambda: UTC)
        yield


def _differences(
    recorded: Recorded, queries: list[tuple[str, ...]], capture: Capture, when: datetime
) -> list[str]:
    found = []
    for query in queries:
        # Tables show ages relative to now: compare what each showed with the clock at that moment.
        with clock_at(when):
            answer = ok(recorded.store, *query, "--as-of", iso(when))
        if answer != capture.answers[query]:
            found.append(
                f"{' '.join(query)} --as-of {iso(when)}:\n{answer}\n!= live then:\n{capture.answers[query]}"
            )
    return found


def test_the_history_passes_through_every_kind_of_state(recorded: Recorded) -> None:
    first, last = recorded.captures[0], recorded.captures[-1]
    assert recorded.captures[7].moment == at(3720)

    assert first.answers[("active", "--format", "json")] == "[]\n"
    assert '"state": "New"' in first.answers[("logs", "--format", "json")]
    assert '"triggerState": "Paused"' in recorded.captures[7].answers[("scheduled", "--format", "json")]
    assert '"outcome": "fatal"' in last.answers[("logs", "--format", "json")]
    assert (
        len(
            {
                capture.answers[("active", "--include-waiting", "--format", "json")]
                for capture in recorded.captures
            }
        )
        > 5
    )


@pytest.mark.parametrize("view", list(LIST_QUERIES))
def test_a_list_view_as_of_each_moment_equals_what_it_showed_then(recorded: Recorded, view: str) -> None:
    differences = [
        difference
        for capture in recorded.captures
        for difference in _differences(recorded, LIST_QUERIES[view], capture, capture.moment)
    ]

    assert differences == []


def test_details_as_of_each_moment_equal_what_they_showed_then(recorded: Recorded) -> None:
    differences = [
        difference
        for capture in recorded.captures
        for handle in capture.runs
        for difference in _differences(recorded, details_queries(handle), capture, capture.moment)
    ]

    assert differences == []


def test_a_moment_between_two_steps_shows_the_views_of_the_earlier_step(recorded: Recorded) -> None:
    queries = [LIST_QUERIES[view][0] for view in LIST_QUERIES]
    differences = [
        difference
        for capture in recorded.captures
        for difference in _differences(recorded, queries, capture, capture.moment + timedelta(seconds=5))
    ]

    assert differences == []


def test_as_of_before_the_first_event_every_list_is_empty(recorded: Recorded) -> None:
    before = iso(-1)

    for view in LIST_QUERIES:
        assert ok(recorded.store, view, "--as-of", before, "--format", "json") == "[]\n"
        assert ok(recorded.store, view, "--as-of", before, "--format", "ndjson") == ""


def test_details_as_of_before_the_run_existed_is_an_unknown_handle_error(recorded: Recorded) -> None:
    fatal = recorded.handles.runs["fatal"]

    assert_one_line_error(
        run(recorded.store, "details", fatal, "--as-of", iso(3840), "--format", "json"), 1, fatal
    )


def test_as_of_after_the_last_event_includes_what_the_live_views_have_not_folded_yet(
    recorded: Recorded,
) -> None:
    answer = ok(
        recorded.store, "active", "--include-waiting", "--as-of", iso(recorded.late), "--format", "json"
    )

    assert "acme||late_" in answer


def _view_tables(path: str) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        tables = [
            name
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            if name != "stored_events"
        ]
        return [
            f"{table}: {row}" for table in tables for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1")
        ]


def test_as_of_queries_leave_the_live_views_untouched(recorded: Recorded) -> None:
    store = recorded.store
    status = ok(store, "projections", "status", "--format", "json")
    tables = _view_tables(store.db)
    assert '"lag": 1' in status  # the late run is not folded yet

    for queries in LIST_QUERIES.values():
        for query in queries:
            ok(store, *query, "--as-of", iso(recorded.late))
    ok(store, "details", recorded.handles.runs["upload"], "--as-of", iso(recorded.late))

    assert ok(store, "projections", "status", "--format", "json") == status
    assert _view_tables(store.db) == tables
    assert ok(store, "projections", "verify").startswith("all views match")
