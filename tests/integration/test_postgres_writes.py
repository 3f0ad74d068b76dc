"""PostgreSQL writes: a large batch goes in bounded pieces in one transaction (it used to hang inside
psycopg's pipeline mode holding the table lock), and a writer kept waiting for the lock gives up in
one line instead of stalling the ledger."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from cli_checks import assert_one_line_error
from cli_support import event_count, run
from eventsourcing.persistence import StoredEvent
from psycopg import sql
from samples import OPTIMIZE, at

from jobledger.audit import chain as audit
from jobledger.domain.commands import Command, Complete, LogDetail, Start, Submit, UpdateProgress
from jobledger.domain.errors import StoreError
from jobledger.domain.handles import run_handle, run_name
from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import JobLedger
from jobledger.store import postgres_recorder
from jobledger.store.postgres_recorder import pieces

PAYLOAD = decode_payload("optimizeImagesJob", OPTIMIZE)


def _stored(size: int) -> StoredEvent:
    return StoredEvent(originator_id="x", originator_version=1, topic="t", state=b"s" * size)


def test_a_batch_is_cut_into_pieces_of_bounded_bytes_in_order() -> None:
    events = [_stored(400) for _ in range(10)] + [_stored(5000)] + [_stored(400) for _ in range(3)]

    parts = list(pieces(events, size=1000))

    assert [e for part in parts for e in part] == events
    assert [len(part) for part in parts] == [2, 2, 2, 2, 2, 1, 2, 1]
    assert parts[5][0].state == b"s" * 5000, "an event larger than a piece goes alone"
    assert list(pieces([], size=1000)) == []
    assert [len(p) for p in pieces(events[:3], size=10**6)] == [3]


def _runs(company: str, jobs: int) -> list[Command]:
    """Ten commands a run: submit, start, three progress reports, four detail rows, complete."""
    commands: list[Command] = []
    for n in range(jobs):
        name = f"Job{n:05d}"
        handle = run_handle(company, run_name(name, at(0)))
        commands.append(Submit(company=company, name=name, payload=PAYLOAD, at=at(0)))
        commands.append(Start(handle=handle, server="ips-1", at=at(1)))
        commands += [
            UpdateProgress(handle=handle, percent=p, message="working", at=at(2)) for p in (20, 50, 80)
        ]
        commands += [
            LogDetail(
                handle=handle, log_type="FileBegin", message=f"file {i}", asset_name=f"a{i}.jpg", at=at(3)
            )
            for i in range(4)
        ]
        commands.append(Complete(handle=handle, at=at(4)))
    return commands


def test_a_batch_of_50000_commands_commits_and_a_second_writer_gets_through(postgres_url: str) -> None:
    batch = _runs("acme", 5000)
    assert len(batch) == 50_000
    big, other = JobLedger(postgres_url), JobLedger(postgres_url)
    try:
        done = threading.Event()
        failures: list[BaseException] = []

        def load() -> None:
            try:
                big.record(batch)
            except BaseException as err:  # reported below
                failures.append(err)
            finally:
                done.set()

        loader = threading.Thread(target=load, daemon=True)  # a hang fails the test, not the run
        loader.start()
        # A runner reporting meanwhile waits for the lock, then commits after the batch.
        handle = other.submit("globex", "Nightly", PAYLOAD, at=at(0))
        assert done.wait(120), "the large batch did not finish"
        loader.join()
        assert not failures, failures
        other.start(handle, "ips-2", at=at(1))

        assert big.reader.count() == 50_000 + 2
        assert big.get(run_handle("acme", run_name("Job04999", at(0)))).state == "Done"
        assert audit.verify(big.reader) is None
    finally:
        big.close()
        other.close()


@pytest.fixture
def short_lock_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres_recorder, "LOCK_TIMEOUT_S", 1)


@pytest.fixture
def table_held(postgres_url: str, short_lock_timeout: None) -> Iterator[str]:
    """The events table locked by a stuck writer (another connection inside a transaction)."""
    ledger = JobLedger(postgres_url)
    ledger.submit("acme", "Before", PAYLOAD, at=at(0))
    ledger.close()
    dsn, schema = postgres_url.split("?schema=")
    with psycopg.connect(dsn) as conn:
        conn.execute(
            sql.SQL("LOCK TABLE {}.{} IN EXCLUSIVE MODE").format(
                sql.Identifier(schema), sql.Identifier("jobledger_events")
            )
        )
        yield postgres_url
        conn.rollback()


def test_a_writer_kept_from_the_lock_fails_in_one_line_and_appends_nothing(table_held: str) -> None:
    ledger = JobLedger(table_held)
    try:
        with pytest.raises(StoreError, match="held the events table for more than 1 s"):
            ledger.submit("acme", "Blocked", PAYLOAD, at=at(1))
        assert ledger.reader.count() == 1
    finally:
        ledger.close()


def test_the_cli_reports_a_lock_timeout_in_one_line(table_held: str, tmp_path: Path) -> None:
    args = ["--views", str(tmp_path / "views.db"), "submit", "--company", "acme", "--name", "Blocked"]
    result = run(table_held, *args, "--type", "optimizeImagesJob", "--payload", OPTIMIZE)
    assert_one_line_error(result, 1, "held the events table for more than 1 s")
    assert event_count(table_held) == 1
