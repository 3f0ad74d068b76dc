"""A large rebuild writes its rows from a child process: same views, failures reported, no leftovers.

The threshold is lowered so that small ledgers take the child-process path.
"""

from __future__ import annotations

import pytest
from views_support import busy_ledger, folded_rows, stored_rows

from jobledger.domain.errors import StoreError
from jobledger.projections import runner, writer
from jobledger.projections.bulk import BulkFold
from jobledger.projections.runner import Projector
from jobledger.projections.views import VIEWS
from jobledger.service.ledger import JobLedger


@pytest.fixture
def child_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every rebuild writes from a child process, in pages of 97 events."""
    monkeypatch.setattr(writer, "PROCESS_AT", 0)
    monkeypatch.setattr(runner, "REBUILD_BATCH_SIZE", 97)


@pytest.mark.usefixtures("child_writes")
def test_a_rebuild_written_from_a_child_process_gives_the_views_of_a_plain_fold(
    projector: Projector, job_ledger: JobLedger
) -> None:
    head = busy_ledger(job_ledger, 40)
    projector.catch_up()
    caught_up = stored_rows(projector.db)
    assert projector.rebuild() == job_ledger.event_count()
    assert stored_rows(projector.db) == caught_up == folded_rows(projector)
    assert projector.db.positions(VIEWS) == dict.fromkeys(VIEWS, head)
    assert projector.verify() == []
    # A catch-up after new events reads back the rows it folds them into.
    busy_ledger(job_ledger, 3)
    assert projector.catch_up() > 0
    assert stored_rows(projector.db) == folded_rows(projector)


@pytest.mark.usefixtures("child_writes")
def test_a_rebuild_of_one_view_from_a_child_process_leaves_the_others(
    projector: Projector, job_ledger: JobLedger
) -> None:
    busy_ledger(job_ledger, 12)
    projector.catch_up()
    before = stored_rows(projector.db)
    projector.db.conn.execute("DELETE FROM job_logs")
    projector.rebuild(["job_logs"])
    assert stored_rows(projector.db) == before


def test_a_failure_in_the_writer_process_is_one_clear_error(
    projector: Projector, job_ledger: JobLedger
) -> None:
    busy_ledger(job_ledger, 2)
    # A table that does not exist: the child's insert fails, and says so.
    child = writer.ChildWriter(projector.db.path, {"no_such_table": VIEWS["job_logs"]})
    try:
        fold = BulkFold({"no_such_table": VIEWS["job_logs"]})
        pages = list(projector._pages(0, job_ledger.head_position()))
        for page in pages:
            child.write(fold.fold(page))
        with pytest.raises(StoreError, match="rebuild failed writing rows: OperationalError: no such table"):
            child.finish(job_ledger.head_position())
    finally:
        child.close()


def test_the_writer_process_stops_unfinished_when_the_rebuild_goes_away(
    projector: Projector, job_ledger: JobLedger
) -> None:
    busy_ledger(job_ledger, 2)
    projector.db.create_table(VIEWS["job_logs"], "aside", indexes=False)
    child = writer.ChildWriter(projector.db.path, {"aside": VIEWS["job_logs"]})
    fold = BulkFold({"aside": VIEWS["job_logs"]})
    for page in projector._pages(0, job_ledger.head_position()):
        child.write(fold.fold(page))
    child.close()  # no finish: the rebuild failed on its side
    assert child._child.returncode == 0
    # What it wrote is there, but without its secondary indexes (the key is the table's own) and
    # still at position 0: never swapped in.
    assert projector.db.count("aside") == 2
    assert projector.db.positions(["aside"]) == {"aside": 0}
    indexes = projector.db.conn.execute(
        "SELECT name FROM sqlite_master WHERE tbl_name = 'aside' AND type = 'index' AND sql IS NOT NULL"
    )
    assert indexes.fetchall() == []


def test_only_a_large_rebuild_starts_a_writer_process(projector: Projector) -> None:
    assert isinstance(writer.open_writer(projector.db, {}, writer.PROCESS_AT - 1), writer.LocalWriter)
    large = writer.open_writer(projector.db, {}, writer.PROCESS_AT)
    try:
        assert isinstance(large, writer.ChildWriter)
        large.finish(0)
    finally:
        large.close()
