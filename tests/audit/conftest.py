"""Fixtures of the audit tests: stores in real SQLite files and in PostgreSQL schemas of their own."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from audit_support import Store, StoreFactory
from postgres_support import SKIP_REASON, drop_schema, new_schema, postgres_dsn, store_url


@pytest.fixture(scope="session")
def new_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreFactory]:
    """Makes fresh, empty stores: `new_store("sqlite")` or `new_store("postgres")` (skipped without
    JOBLEDGER_TEST_POSTGRES). Each gets its own files; PostgreSQL schemas are dropped at the end."""
    schemas: list[str] = []
    numbers = itertools.count(1)
    dsn = postgres_dsn()

    def make(kind: str) -> Store:
        folder = tmp_path_factory.mktemp(f"store{next(numbers)}")
        if kind == "sqlite":
            return Store(db=str(folder / "ledger.db"))
        if dsn is None:
            pytest.skip(SKIP_REASON)
        schema = new_schema()
        schemas.append(schema)
        return Store(db=store_url(dsn, schema), views=str(folder / "views.db"), dsn=dsn, schema=schema)

    try:
        yield make
    finally:
        for schema in schemas:
            assert dsn is not None
            drop_schema(dsn, schema)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, new_store: StoreFactory) -> Store:
    """A fresh, empty store, on SQLite and on PostgreSQL."""
    return new_store(request.param)


@pytest.fixture
def sqlite_store(new_store: StoreFactory) -> Store:
    """A fresh SQLite store, for what only a file offers."""
    return new_store("sqlite")
