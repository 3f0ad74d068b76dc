"""Large batches append from a child process while they are decided: same rows, same chain, same
rules, still all or nothing, conflicts still decided again, failures one clear error.

The threshold is lowered so that small batches take that path. On PostgreSQL the ledger appends
in-process whatever the size; these tests then check that nothing differs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing

import pytest
from samples import OPTIMIZE, at

from jobledger.audit import chain as audit
from jobledger.domain.commands import Command, Complete, LogDetail, Start, Submit, UpdateProgress
from jobledger.domain.errors import InvalidTransitionError, RuleError, StoreError
from jobledger.domain.handles import run_handle, run_name
from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import JobLedger
from jobledger.store import appender, writer

PAYLOAD = decode_payload("optimizeImagesJob", OPTIMIZE)
OpenLedger = Callable[[], JobLedger]


@pytest.fixture(autouse=True)
def bulk_from_two_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(appender, "BULK_APPEND_AT", 2)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Events go to the appender five at a time, so a batch spans several frames."""
    monkeypatch.setattr(writer._Streamed, "CHUNK", 5)
    yield


def lifecycle(job: int, start: float = 0) -> list[Command]:
    handle = run_handle("acme", run_name(f"bulk-{job}", at(start + job)))
    return [
        Submit(company="acme", name=f"bulk-{job}", payload=PAYLOAD, at=at(start + job)),
        Start(handle=handle, server="ips-1", at=at(start + job + 1)),
        UpdateProgress(handle=handle, percent=50, at=at(start + job + 2)),
        LogDetail(handle=handle, log_type="UploadSuccess", message="a.tif", at=at(start + job + 3)),
        Complete(handle=handle, at=at(start + job + 4)),
    ]


def stream(jobs: int) -> list[Command]:
    return [command for job in range(jobs) for command in lifecycle(job)]


def stored(ledger: JobLedger) -> list[tuple[object, ...]]:
    """Every stored event and its chain link, in position order."""
    events = [
        (n.position, n.originator_id, n.originator_version, n.topic, n.state) for n in ledger.reader.stored()
    ]
    return [(*event, link) for event, link in zip(events, ledger.reader.chain_rows(), strict=True)]


@pytest.mark.usefixtures("small_chunks")
def test_a_bulk_batch_stores_the_very_rows_and_chain_an_in_process_batch_stores(
    db: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = JobLedger(db)
    try:
        ledger.submit("acme", "before", PAYLOAD, at=at(-10))  # the chain continues what is there
        ledger.record(stream(7))
        ledger.record(lifecycle(50)[:1])  # a batch of one: in-process, after a bulk one
        bulk = stored(ledger)
        assert audit.verify(ledger.reader) is None
        assert ledger.event_count() == 37
    finally:
        ledger.close()
    monkeypatch.setattr(appender, "BULK_APPEND_AT", 10**9)
    reference_db = f"{tmp_path}/reference.db" if "://" not in db else None
    if reference_db is None:
        return  # on PostgreSQL both were in-process: nothing to compare
    reference = JobLedger(reference_db)
    try:
        reference.submit("acme", "before", PAYLOAD, at=at(-10))
        reference.record(stream(7))
        reference.record(lifecycle(50)[:1])
        assert stored(reference) == bulk
    finally:
        reference.close()


@pytest.mark.usefixtures("small_chunks")
def test_a_rule_broken_late_in_a_bulk_batch_appends_nothing_and_the_next_batch_goes_through(
    ledger: JobLedger,
) -> None:
    commands = stream(6)
    commands.append(Start(handle=run_handle("acme", run_name("bulk-0", at(0))), server="ips-2", at=at(99)))
    with pytest.raises(InvalidTransitionError, match=r"command 31 \(Start\): cannot start job"):
        ledger.record(commands)
    assert ledger.event_count() == 0
    ledger.record(stream(6))
    assert ledger.event_count() == 30
    assert audit.verify(ledger.reader) is None


def test_a_bulk_batch_decided_on_a_stale_cache_is_decided_again(open_ledger: OpenLedger) -> None:
    a, b = open_ledger(), open_ledger()
    a.record(stream(3))  # a caches the three runs, Done
    started = lifecycle(9, 100)[:2]
    handle = started[1].handle  # type: ignore[attr-defined]
    a.record(started)  # a caches bulk-9 Running at version 2
    b.update_progress(handle, 10, at=at(200))  # b moves it to version 3 behind a's back

    # a's first attempt decides on version 2 and the append conflicts; it reads, decides again.
    a.record([UpdateProgress(handle=handle, percent=60, at=at(201)), *lifecycle(20, 300)])

    assert [e.originator_version for e in b.history(handle)] == [1, 2, 3, 4]
    assert b.get(handle).progress == 60
    assert a.event_count() == 15 + 2 + 1 + 1 + 5
    assert audit.verify(a.reader) is None


JAM = "jobledger_test_jam"


def test_a_failing_bulk_append_is_one_store_error_appends_nothing_and_the_ledger_recovers(
    sqlite_db: str,
) -> None:
    ledger = JobLedger(sqlite_db)
    try:
        ledger.record(stream(2))
        with closing(sqlite3.connect(sqlite_db)) as conn, conn:  # every insert now fails in SQLite
            conn.execute(
                f"CREATE TRIGGER {JAM} AFTER INSERT ON stored_events BEGIN INSERT INTO {JAM} VALUES (1); END"
            )
        with pytest.raises(StoreError, match=rf"^cannot append the batch: no such table: main.{JAM}$"):
            ledger.record(stream(4)[10:])
        assert ledger.event_count() == 10
        with closing(sqlite3.connect(sqlite_db)) as conn, conn:
            conn.execute(f"DROP TRIGGER {JAM}")
        ledger.record(stream(4)[10:])
        assert ledger.event_count() == 20
        assert audit.verify(ledger.reader) is None
    finally:
        ledger.close()


def test_the_appender_outlives_one_batch_and_stops_with_the_ledger(sqlite_db: str) -> None:
    ledger = JobLedger(sqlite_db)
    ledger.record(stream(2))
    child = ledger._writer._bulk
    assert child is not None
    ledger.record(stream(4)[10:])
    assert ledger._writer._bulk is child  # one child for the ledger's large batches
    ledger.close()
    assert child._child.returncode == 0


def test_a_broken_rule_in_a_bulk_batch_reads_as_in_process(ledger: JobLedger) -> None:
    # The same message, whichever path: the rule is decided before anything is appended.
    with pytest.raises(RuleError, match="progress must be between 0 and 100, got 101"):
        first = lifecycle(0)
        ledger.record([*first[:2], UpdateProgress(handle=first[1].handle, percent=101, at=at(9))])  # type: ignore[attr-defined]
    assert ledger.event_count() == 0
