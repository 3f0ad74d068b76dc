"""Views are there from the start: a new ledger file holds the view tables, `demo` leaves them
caught up, detail rows name their run, and views of an older layout are folded afresh."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from views_support import invoke, seed_catalogue

from jobledger.projections.database import LAYOUT
from jobledger.projections.runner import Projector
from jobledger.projections.views import VIEWS
from jobledger.service.ledger import JobLedger


def tables(path: str) -> set[str]:
    with closing(sqlite3.connect(path)) as conn:
        return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def unnamed_details(path: str) -> int:
    """Detail rows whose jobHandle/companyHandle differ from their run's (or are empty)."""
    with closing(sqlite3.connect(path)) as conn:
        return int(
            conn.execute(
                "SELECT COUNT(*) FROM job_log_details d LEFT JOIN job_logs j ON j.id = d.jobId"
                " WHERE j.id IS NULL OR d.jobHandle != j.jobHandle OR d.companyHandle != j.companyHandle"
                " OR d.jobHandle = ''"
            ).fetchone()[0]
        )


def test_a_new_ledger_file_holds_the_view_tables_before_any_read(ledger_file: str) -> None:
    JobLedger(ledger_file).close()

    assert {*VIEWS, "view_positions", "quarantine", "views_meta"} <= tables(ledger_file)


def test_view_tables_declare_their_keys(ledger_file: str) -> None:
    JobLedger(ledger_file).close()

    with closing(sqlite3.connect(ledger_file)) as conn:
        keys = {
            name: tuple(
                row[1]
                for row in sorted(conn.execute(f"PRAGMA table_info([{name}])"), key=lambda r: r[5])
                if row[5]
            )
            for name in VIEWS
        }
    assert keys == {name: view.key_columns for name, view in VIEWS.items()}


def test_the_demo_file_holds_its_views_caught_up_with_named_detail_rows(tmp_path: Path) -> None:
    path = str(tmp_path / "demo.db")
    result = invoke("--db", path, "demo", "--jobs", "20")
    assert result.exit_code == 0, result.stderr

    ledger = JobLedger(path, create=False)
    try:
        head = ledger.head_position()
    finally:
        ledger.close()
    with closing(sqlite3.connect(path)) as conn:
        positions = dict(conn.execute("SELECT view, position FROM view_positions"))
        details = conn.execute("SELECT COUNT(*) FROM job_log_details").fetchone()[0]
    assert {name: positions.get(name) for name in VIEWS} == dict.fromkeys(VIEWS, head)
    assert details > 0
    assert unnamed_details(path) == 0


def test_detail_rows_name_their_run_on_every_path(
    ledger_file: str, job_ledger: JobLedger, projector: Projector
) -> None:
    seed_catalogue(job_ledger)
    projector.catch_up()
    assert unnamed_details(ledger_file) == 0
    projector.rebuild(["job_log_details"])  # without job_logs: the names are kept by the fold
    assert unnamed_details(ledger_file) == 0
    projector.rebuild()
    assert unnamed_details(ledger_file) == 0
    assert projector.verify() == []


def test_views_of_an_older_layout_are_folded_afresh(ledger_file: str, job_ledger: JobLedger) -> None:
    seed_catalogue(job_ledger)
    assert invoke("--db", ledger_file, "logs").exit_code == 0
    with closing(sqlite3.connect(ledger_file)) as conn, conn:  # as an older jobledger left them
        conn.execute("DELETE FROM views_meta WHERE key = 'layout'")
        conn.execute(
            "CREATE TABLE old AS SELECT jobId, version, logType, logMessage, dateCreated, assetName,"
            " assetType, assetHandle, auxArray FROM job_log_details"
        )
        conn.execute("DROP TABLE job_log_details")
        conn.execute("ALTER TABLE old RENAME TO job_log_details")

    result = invoke("--db", ledger_file, "logs")
    verified = invoke("--db", ledger_file, "projections", "verify")

    assert result.exit_code == 0, result.stderr
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    assert unnamed_details(ledger_file) == 0
    with closing(sqlite3.connect(ledger_file)) as conn:
        assert conn.execute("SELECT value FROM views_meta WHERE key = 'layout'").fetchone() == (str(LAYOUT),)
