"""Fixtures of the audit tests: stores in real SQLite files and in PostgreSQL schemas of their own."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest
from audit_support import Store, StoreFactory
from psycopg import sql

POSTGRES_ENV = "JOBLEDGER_TEST_POSTGRES"


@pytest.fixture(autouse=True)
def _no_jobledger_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller's JOBLEDGER_DB / JOBLEDGER_VIEWS must not steer the commands under test."""
    for name in ("JOBLEDGER_DB", "JOBLEDGER_VIEWS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def new_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreFactory]:
    """Makes fresh, empty stores: `new_store("sqlite")` or `new_store("postgres")` (skipped without
    JOBLEDGER_TEST_POSTGRES). Each gets its own files; PostgreSQL schemas are dropped at the end."""
    schemas: list[str] = []
    numbers = itertools.count(1)
    dsn = os.environ.get(POSTGRES_ENV) or None

    def make(kind: str) -> Store:
        folder = tmp_path_factory.mktemp(f"store{next(numbers)}")
        if kind == "sqlite":
            return Store(db=str(folder / "ledger.db"))
        if dsn is None:
            pytest.skip(f"{POSTGRES_ENV} is not set; PostgreSQL leg skipped")
        schema = f"t_{uuid4().hex}"
        schemas.append(schema)
        separator = "&" if "?" in dsn else "?"
        return Store(
            db=f"{dsn}{separator}schema={schema}", views=str(folder / "views.db"), dsn=dsn, schema=schema
        )

    try:
        yield make
    finally:
        if schemas:
            assert dsn is not None
            with psycopg.connect(dsn, autocommit=True) as conn:
                for schema in schemas:
                    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, new_store: StoreFactory) -> Store:
    """A fresh, empty store, on SQLite and on PostgreSQL."""
    return new_store(request.param)


@pytest.fixture
def sqlite_store(new_store: StoreFactory) -> Store:
    """A fresh SQLite store, for what only a file offers."""
    return new_store("sqlite")
