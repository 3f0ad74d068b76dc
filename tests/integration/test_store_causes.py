"""Store errors keep their cause for a Python caller (`err.__cause__`); the CLI still prints one line."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec
import pytest
from cli_checks import assert_one_line_error
from cli_support import run
from samples import OPTIMIZE, at

from jobledger.domain.errors import StoreError, UndecodableEventError
from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import JobLedger


def test_a_file_that_is_not_a_database_keeps_the_sqlite_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)

    with pytest.raises(StoreError, match="is not a jobledger database") as caught:
        JobLedger(str(path))

    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)
    assert_one_line_error(run(str(path), "logs"), 1, "is not a jobledger database")


def test_a_path_the_file_system_refuses_keeps_the_os_error(tmp_path: Path) -> None:
    path = tmp_path / ("a" * 300) / "ledger.db"

    with pytest.raises(StoreError, match="cannot use database path") as caught:
        JobLedger(str(path))

    assert isinstance(caught.value.__cause__, OSError)


def test_an_event_that_does_not_decode_keeps_the_decoder_error(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    with JobLedger(db) as ledger:
        handle = ledger.submit("acme", "n", decode_payload("optimizeImagesJob", OPTIMIZE), at=at(0))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE stored_events SET state = x'c1'")  # 0xc1: never used in MessagePack
    conn.close()

    with JobLedger(db) as ledger, pytest.raises(UndecodableEventError, match="cannot be read") as caught:
        ledger.get(handle)

    assert isinstance(caught.value.__cause__, msgspec.DecodeError)
