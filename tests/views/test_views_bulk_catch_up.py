"""A catch-up far behind takes the bulk path (a rebuild) and gives the very views the
event-by-event catch-up gives, quarantine included (the threshold is lowered here)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from views_support import OPTIMIZE, at, seed_catalogue

from jobledger.projections import runner
from jobledger.projections.runner import Projector
from jobledger.projections.views import VIEWS
from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector


def contents(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every view's rows and the quarantine, sorted."""
    with closing(sqlite3.connect(path)) as conn:
        found = {name: sorted(conn.execute(f"SELECT * FROM [{name}]"), key=repr) for name in VIEWS}
        found["quarantine"] = list(
            conn.execute("SELECT position, originator_id, topic, error FROM quarantine")
        )
        found["positions"] = sorted(conn.execute("SELECT * FROM view_positions"))
    return found


def caught_up(ledger: JobLedger, path: Path, threshold: int, monkeypatch: pytest.MonkeyPatch) -> int:
    """Catch the views in `path` up with the bulk path from `threshold` events on; how many
    rebuilds that took."""
    rebuilds = 0
    real = Projector.rebuild

    def counted(self: Projector, *args: Any, **kwargs: Any) -> int:
        nonlocal rebuilds
        rebuilds += 1
        return real(self, *args, **kwargs)

    monkeypatch.setattr(runner, "BULK_CATCH_UP_AT", threshold)
    monkeypatch.setattr(Projector, "rebuild", counted)
    projector = open_projector(ledger, str(path))
    try:
        projector.catch_up()
    finally:
        projector.db.close()
        monkeypatch.undo()
    return rebuilds


def test_the_bulk_catch_up_gives_the_views_the_event_by_event_catch_up_gives(
    ledger_file: str, job_ledger: JobLedger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_catalogue(job_ledger)
    with closing(sqlite3.connect(ledger_file)) as conn, conn:  # an event that does not decode
        conn.execute(
            "INSERT INTO stored_events (originator_id, originator_version, topic, state) VALUES (?, 1, ?, ?)",
            (uuid4().hex, "jobledger.domain.events:Nonesuch", b"\x80"),
        )
    job_ledger.submit("c6", "after", OPTIMIZE, at=at(900))
    bulk, stepwise = tmp_path / "bulk.db", tmp_path / "stepwise.db"

    assert caught_up(job_ledger, bulk, 5, monkeypatch) == 1
    assert caught_up(job_ledger, stepwise, 10**9, monkeypatch) == 0
    assert contents(bulk) == contents(stepwise)
    assert len(contents(bulk)["quarantine"]) == 1

    # A little behind: both go event by event, and still agree.
    handle = job_ledger.submit("c6", "later", OPTIMIZE, at=at(950))
    job_ledger.start(handle, "ips-1", at=at(951))
    assert caught_up(job_ledger, bulk, 5, monkeypatch) == 0  # 2 events: under the threshold
    assert caught_up(job_ledger, stepwise, 10**9, monkeypatch) == 0
    assert contents(bulk) == contents(stepwise)


def test_a_catch_up_behind_by_less_than_half_the_store_goes_event_by_event(
    ledger_file: str, job_ledger: JobLedger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_catalogue(job_ledger)
    views = tmp_path / "views.db"
    assert caught_up(job_ledger, views, 10**9, monkeypatch) == 0
    head = job_ledger.head_position()
    for number in range(head // 2 - 1):
        job_ledger.submit("c6", f"more-{number}", OPTIMIZE, at=at(1000 + number))
    lag = job_ledger.head_position() - head

    # The rebuild would read every event: more than twice the lag.
    assert caught_up(job_ledger, views, lag, monkeypatch) == 0
    with closing(sqlite3.connect(views)) as conn:
        assert {row[0] for row in conn.execute("SELECT position FROM view_positions")} == {
            job_ledger.head_position()
        }


def test_a_new_reader_node_catches_up_on_the_bulk_path_on_either_store(
    ledger: JobLedger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_catalogue(ledger)
    bulk, stepwise = tmp_path / "bulk.db", tmp_path / "stepwise.db"

    assert caught_up(ledger, bulk, 5, monkeypatch) == 1
    assert caught_up(ledger, stepwise, 10**9, monkeypatch) == 0
    assert contents(bulk) == contents(stepwise)
