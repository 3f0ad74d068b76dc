"""Fixtures of the schedule tests: a ledger in a real SQLite file (PostgreSQL stores: tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobledger.service.ledger import JobLedger


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
