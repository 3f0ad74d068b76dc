"""Fixtures of the views tests: a ledger in a real SQLite file and its projector."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jobledger.projections.runner import Projector
from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector


@pytest.fixture(autouse=True)
def _eighty_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables are drawn for an 80-column terminal, whatever the caller's."""
    monkeypatch.setenv("COLUMNS", "80")


@pytest.fixture
def ledger_file(sqlite_db: str) -> str:
    """The views tests' name for tests/conftest.py's sqlite_db (views live in the same file)."""
    return sqlite_db


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
