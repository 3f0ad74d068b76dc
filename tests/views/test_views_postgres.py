"""The views with the event store on PostgreSQL (views in a local SQLite file given by --views).

Skipped unless JOBLEDGER_TEST_POSTGRES names a server; each test gets a schema of its own.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from views_support import (
    ASSET_LOG_KEYS,
    DETAIL_KEYS,
    JOB_LOG_KEYS,
    Catalogue,
    invoke,
    run_jobledger,
    seed_catalogue,
)

from jobledger.service.ledger import JobLedger

NEEDS_VIEWS = (
    "Error: with a PostgreSQL store the views need a local SQLite file:"
    " give --views FILE or set JOBLEDGER_VIEWS\n"
)


@pytest.fixture
def postgres_ledger(postgres_url: str) -> Iterator[JobLedger]:
    """A JobLedger on a fresh PostgreSQL schema."""
    ledger = JobLedger(postgres_url)
    try:
        yield ledger
    finally:
        ledger.close()


@pytest.fixture
def seeded(postgres_ledger: JobLedger) -> Catalogue:
    """The seeded catalogue, stored on PostgreSQL."""
    return seed_catalogue(postgres_ledger)


@pytest.fixture
def views_file(tmp_path: Path) -> str:
    """Where the views of the PostgreSQL store live."""
    return str(tmp_path / "views.db")


def query(url: str, views: str, *args: str) -> Any:
    """A query's JSON answer with the store on PostgreSQL."""
    result = invoke("--db", url, "--views", views, *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_every_query_answers_from_views_of_a_postgresql_store(
    seeded: Catalogue, postgres_url: str, views_file: str
) -> None:
    active = query(postgres_url, views_file, "active", "--include-waiting")
    logs = query(postgres_url, views_file, "logs", "--company", "c47", "--sort-by", "JobName")
    details = query(postgres_url, views_file, "details", seeded.uploading, "--per-page", "5", "--page", "2")
    assets = query(postgres_url, views_file, "asset-logs", "a|boot", "--company", "c47")

    assert [r["jobHandle"] for r in active] == [seeded.uploading, seeded.waiting, seeded.stopping]
    assert len(logs) == 5
    assert all(set(r) >= JOB_LOG_KEYS for r in logs)
    assert details["detailTotalRows"] == 7
    assert [set(row) for row in details["detailArray"]] == [DETAIL_KEYS] * 2
    assert [(r["jobHandle"], set(r)) for r in assets] == [
        (seeded.failed_upload, ASSET_LOG_KEYS),
        (seeded.uploading, ASSET_LOG_KEYS),
    ]


def test_status_catch_up_verify_and_rebuild_work_with_a_postgresql_store(
    seeded: Catalogue, postgres_ledger: JobLedger, postgres_url: str, views_file: str
) -> None:
    head, events = postgres_ledger.head_position(), postgres_ledger.event_count()
    base = ["--db", postgres_url, "--views", views_file, "projections"]

    caught = invoke(*base, "catch-up")
    status = {row["view"]: row for row in json.loads(invoke(*base, "status", "--format", "json").stdout)}
    clean = invoke(*base, "verify")
    with sqlite3.connect(views_file) as conn:
        conn.execute("UPDATE job_logs SET progress = 99")
    conn.close()
    dirty = invoke(*base, "verify")
    rebuilt = invoke(*base, "rebuild")
    again = invoke(*base, "verify")

    assert caught.stdout == f"caught up: {events} events folded, views at position {head}\n"
    assert (status["job_logs"]["position"], status["job_logs"]["lag"], status["job_logs"]["rows"]) == (
        head,
        0,
        7,
    )
    assert clean.exit_code == 0, clean.stdout
    assert dirty.exit_code == 1
    assert dirty.stderr == "Error: views differ from a fresh rebuild: job_logs\n"
    assert "progress is 99" in dirty.stdout
    assert rebuilt.exit_code == 0, rebuilt.stderr
    assert again.exit_code == 0, again.stdout


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["active"], id="active"),
        pytest.param(["logs"], id="logs"),
        pytest.param(["details", "c47||x_2026-01-01-09:00:00"], id="details"),
        pytest.param(["asset-logs", "a|boot", "--company", "c47"], id="asset-logs"),
        pytest.param(["projections", "status"], id="projections-status"),
        pytest.param(["projections", "catch-up"], id="projections-catch-up"),
    ],
)
def test_a_query_on_a_postgresql_store_without_views_exits_1_saying_to_give_views(
    postgres_ledger: JobLedger, postgres_url: str, args: list[str]
) -> None:
    result = invoke("--db", postgres_url, *args)

    assert result.exit_code == 1
    assert result.stderr == NEEDS_VIEWS
    assert result.stdout == ""


def test_the_views_file_may_come_from_the_environment(
    seeded: Catalogue, postgres_url: str, views_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBLEDGER_VIEWS", views_file)

    result = invoke("--db", postgres_url, "logs", "--format", "ndjson")

    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 7
    assert Path(views_file).exists()


def test_a_views_file_built_from_one_postgresql_schema_is_refused_for_another(
    seeded: Catalogue, postgres_url: str, postgres_schemas: Callable[[], str], views_file: str
) -> None:
    other = postgres_schemas()
    JobLedger(other).close()
    assert invoke("--db", postgres_url, "--views", views_file, "logs").exit_code == 0

    result = invoke("--db", other, "--views", views_file, "logs")

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: views database")
    assert "another store" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_query_sees_a_run_another_process_just_wrote_to_postgresql(
    postgres_ledger: JobLedger, postgres_url: str, views_file: str
) -> None:
    assert query(postgres_url, views_file, "logs") == []

    written = run_jobledger(
        "--db",
        postgres_url,
        "submit",
        "--company",
        "c47",
        "--name",
        "from-a-child",
        "--type",
        "metadataPublishJob",
    )
    started = run_jobledger("--db", postgres_url, "start", written.stdout.strip(), "--server", "ips-app-01")

    assert (written.returncode, started.returncode) == (0, 0), written.stderr + started.stderr
    records = query(postgres_url, views_file, "active")
    assert [(r["jobHandle"], r["state"]) for r in records] == [(written.stdout.strip(), "Running")]
