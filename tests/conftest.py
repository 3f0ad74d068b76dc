"""Fixtures shared by every test folder: an event store on SQLite and on PostgreSQL, and a ledger on it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

from jobledger.domain.ledger import JobLedger

POSTGRES_ENV = "JOBLEDGER_TEST_POSTGRES"


def postgres_dsn() -> str | None:
    """The PostgreSQL server the tests may use, or None when the PostgreSQL leg is off."""
    return os.environ.get(POSTGRES_ENV) or None


def _drop_schema(dsn: str, schema: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> Iterator[str]:
    """The --db value of a fresh, empty event store: an SQLite file, or a schema of its own."""
    if request.param == "sqlite":
        yield os.path.join(tmp_path, "ledger.db")
        return
    dsn = postgres_dsn()
    if dsn is None:
        pytest.skip(f"{POSTGRES_ENV} is not set; PostgreSQL leg skipped")
    schema = f"t_{uuid4().hex}"
    separator = "&" if "?" in dsn else "?"
    try:
        yield f"{dsn}{separator}schema={schema}"
    finally:
        _drop_schema(dsn, schema)


@pytest.fixture
def sqlite_db(tmp_path: os.PathLike[str]) -> str:
    """An SQLite ledger path, for what only the embedded store has (files, processes)."""
    return os.path.join(tmp_path, "ledger.db")


@pytest.fixture
def ledger(db: str) -> Iterator[JobLedger]:
    """A JobLedger on the fresh store, closed after the test."""
    opened = JobLedger(db)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def open_ledger(db: str) -> Iterator[Callable[[], JobLedger]]:
    """Opens more JobLedgers on the same store (a second writer, a fresh reader); closes them after."""
    opened: list[JobLedger] = []

    def _open() -> JobLedger:
        opened.append(JobLedger(db))
        return opened[-1]

    try:
        yield _open
    finally:
        for each in opened:
            each.close()
