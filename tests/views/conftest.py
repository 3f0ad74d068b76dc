"""Fixtures of the views tests: a ledger in a real SQLite file, its projector, a PostgreSQL store."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from views_support import drop_schema

from jobledger.domain.ledger import JobLedger
from jobledger.projections import open_projector
from jobledger.projections.runner import Projector

POSTGRES_ENV = "JOBLEDGER_TEST_POSTGRES"


@pytest.fixture(autouse=True)
def _no_jobledger_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller's JOBLEDGER_DB / JOBLEDGER_VIEWS must not steer the commands under test."""
    for name in ("JOBLEDGER_DB", "JOBLEDGER_VIEWS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "80")


@pytest.fixture
def ledger_file(tmp_path: Path) -> str:
    """The path of a fresh SQLite ledger (views live in the same file)."""
    return str(tmp_path / "ledger.db")


@pytest.fixture
def job_ledger(ledger_file: str) -> Iterator[JobLedger]:
    """A JobLedger on the fresh SQLite file, closed after the test."""
    ledger = JobLedger(ledger_file)
    try:
        yield ledger
    finally:
        ledger.close()


@pytest.fixture
def projector(job_ledger: JobLedger) -> Iterator[Projector]:
    """The projector of that ledger, its views in the ledger's own file."""
    opened = open_projector(job_ledger)
    try:
        yield opened
    finally:
        opened.db.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL store URL with a schema of its own (JobLedger creates it; dropped after)."""
    dsn = os.environ.get(POSTGRES_ENV)
    if not dsn:
        pytest.skip(f"{POSTGRES_ENV} is not set; PostgreSQL leg skipped")
    schema = f"t_{uuid4().hex}"
    separator = "&" if "?" in dsn else "?"
    try:
        yield f"{dsn}{separator}schema={schema}"
    finally:
        drop_schema(dsn, schema)


@pytest.fixture
def postgres_schemas() -> Iterator[Callable[[], str]]:
    """Makes fresh PostgreSQL store URLs on demand (one per hypothesis example); drops them after."""
    dsn = os.environ.get(POSTGRES_ENV)
    if not dsn:
        pytest.skip(f"{POSTGRES_ENV} is not set; PostgreSQL leg skipped")
    made: list[str] = []
    separator = "&" if "?" in dsn else "?"

    def _new() -> str:
        made.append(f"t_{uuid4().hex}")
        return f"{dsn}{separator}schema={made[-1]}"

    try:
        yield _new
    finally:
        for schema in made:
            drop_schema(dsn, schema)
