"""Fixtures of the schedule tests: a ledger in a real SQLite file (PostgreSQL stores: tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jobledger.service.ledger import JobLedger


@pytest.fixture
def ledger_path(sqlite_db: str) -> str:
    """The schedule tests' name for tests/conftest.py's sqlite_db (its views live in the same file)."""
    return sqlite_db


@pytest.fixture
def schedules(ledger_path: str) -> Iterator[JobLedger]:
    """A JobLedger on the fresh SQLite file, closed after the test."""
    ledger = JobLedger(ledger_path)
    try:
        yield ledger
    finally:
        ledger.close()
