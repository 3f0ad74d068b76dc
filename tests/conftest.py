"""Fixtures shared by every test folder: an event store on SQLite and on PostgreSQL, and a ledger on it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from postgres_support import SKIP_REASON, drop_schema, new_schema, postgres_dsn, store_url

from jobledger.service.ledger import JobLedger


@pytest.fixture(autouse=True)
def _no_jobledger_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller's JOBLEDGER_DB / JOBLEDGER_VIEWS must not steer the commands under test."""
    for name in ("JOBLEDGER_DB", "JOBLEDGER_VIEWS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest) -> Iterator[str]:
    """The --db value of a fresh, empty event store: an SQLite file, or a schema of its own."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_db")
        return
    yield from _postgres_store()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL store URL with a schema of its own (JobLedger creates it; dropped after)."""
    yield from _postgres_store()


def _postgres_store() -> Iterator[str]:
    dsn = postgres_dsn()
    if dsn is None:
        pytest.skip(SKIP_REASON)
    schema = new_schema()
    try:
        yield store_url(dsn, schema)
    finally:
        drop_schema(dsn, schema)


@pytest.fixture
def postgres_schemas() -> Iterator[Callable[[], str]]:
    """Makes fresh PostgreSQL store URLs on demand (one per hypothesis example); drops them after."""
    dsn = postgres_dsn()
    if dsn is None:
        pytest.skip(SKIP_REASON)
    made: list[str] = []

    def _new() -> str:
        made.append(new_schema())
        return store_url(dsn, made[-1])

    try:
        yield _new
    finally:
        for schema in made:
            drop_schema(dsn, schema)


@pytest.fixture
def sqlite_db(tmp_path: os.PathLike[str]) -> str:
    """The path of a fresh SQLite ledger file, for what only the embedded store has (files, processes).

    Every suite's ledger-file fixture is this one (schedules' ledger_path, views' ledger_file)."""
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
