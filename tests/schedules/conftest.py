"""Fixtures of the schedule tests: a ledger in a real SQLite file, and a PostgreSQL schema of its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

from jobledger.domain.ledger import JobLedger

POSTGRES_ENV = "JOBLEDGER_TEST_POSTGRES"


@pytest.fixture(autouse=True)
def _no_jobledger_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller's JOBLEDGER_DB / JOBLEDGER_VIEWS must not steer the commands under test."""
    for name in ("JOBLEDGER_DB", "JOBLEDGER_VIEWS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def ledger_path(tmp_path: Path) -> str:
    """The path of a fresh SQLite ledger file (its views live in the same file)."""
    return str(tmp_path / "ledger.db")


@pytest.fixture
def schedules(ledger_path: str) -> Iterator[JobLedger]:
    """A JobLedger on the fresh SQLite file, closed after the test."""
    ledger = JobLedger(ledger_path)
    try:
        yield ledger
    finally:
        ledger.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL store URL in a schema of its own (created by JobLedger, dropped afterwards)."""
    dsn = os.environ.get(POSTGRES_ENV)
    if not dsn:
        pytest.skip(f"{POSTGRES_ENV} is not set; PostgreSQL leg skipped")
    schema = f"t_{uuid4().hex}"
    separator = "&" if "?" in dsn else "?"
    try:
        yield f"{dsn}{separator}schema={schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
