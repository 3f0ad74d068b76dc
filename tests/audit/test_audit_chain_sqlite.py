"""The chain as SQLite keeps it, in the event rows (domain/sqlite_chain.py): ledgers written with the
old chain table are moved over on open; an append never links over a deleted event; writers whose
remembered head went stale link after each other; the chain reads back page by page with every
deleted position named once."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing

import pytest
from audit_support import Store, Tables, digest_of, event_count, fill, ok, recomputed_links, run
from cli_checks import assert_one_line_error

from jobledger.audit import chain as audit
from jobledger.domain.commands import LogDetail
from jobledger.domain.errors import StoreError
from jobledger.service.ledger import JobLedger
from jobledger.store.sqlite_chain import EMPTY_HEAD, OLD_CHAIN_TABLE, SQLiteChain

EVENTS_WRITTEN = 34  # the history of audit_support.write_history
OLD_LAYOUT = [
    "CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB,"
    " PRIMARY KEY (originator_id, originator_version))",
    f"CREATE TABLE {OLD_CHAIN_TABLE} (position INTEGER PRIMARY KEY, ordinal INTEGER NOT NULL,"
    " link BLOB NOT NULL)",
]


def rewrite_in_old_layout(store: Store) -> None:
    """Turn a ledger file into the layout written before the chain moved into the event rows."""
    with closing(sqlite3.connect(store.db)) as conn, conn:
        rows = conn.execute(
            "SELECT rowid, originator_id, originator_version, topic, state, chain_ordinal, chain_link"
            " FROM stored_events ORDER BY rowid"
        ).fetchall()
        conn.execute("DROP TABLE stored_events")
        for statement in OLD_LAYOUT:
            conn.execute(statement)
        conn.executemany(
            "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state)"
            " VALUES (?, ?, ?, ?, ?)",
            [row[:5] for row in rows],
        )
        conn.executemany(
            f"INSERT INTO {OLD_CHAIN_TABLE} VALUES (?, ?, ?)", [(r[0], r[5], r[6]) for r in rows]
        )


def tables_of(store: Store) -> set[str]:
    with closing(sqlite3.connect(store.db)) as conn:
        return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_ledger_with_the_old_chain_table_is_moved_over_on_open_with_the_same_digest(
    sqlite_store: Store,
) -> None:
    fill(sqlite_store)
    digest = digest_of(sqlite_store)
    rewrite_in_old_layout(sqlite_store)
    assert OLD_CHAIN_TABLE in tables_of(sqlite_store)

    assert ok(sqlite_store, "audit", "verify", "--digest", digest).startswith(
        f"chain intact: {EVENTS_WRITTEN} events"
    )
    assert OLD_CHAIN_TABLE not in tables_of(sqlite_store)
    assert digest_of(sqlite_store) == digest
    assert [link for _, _, link in Tables(sqlite_store).chain()] == recomputed_links(
        Tables(sqlite_store).rows()
    )

    ok(sqlite_store, "submit", "--company", "acme", "--name", "after", "--type", "metadataPublishJob")
    assert ok(sqlite_store, "audit", "verify", "--digest", digest).startswith(
        f"chain intact: {EVENTS_WRITTEN + 1}"
    )


def test_an_old_ledger_whose_last_event_was_deleted_still_names_it_after_the_move(
    sqlite_store: Store,
) -> None:
    fill(sqlite_store)
    rewrite_in_old_layout(sqlite_store)
    with closing(sqlite3.connect(sqlite_store.db)) as conn, conn:
        conn.execute("DELETE FROM stored_events WHERE rowid = ?", (EVENTS_WRITTEN,))

    line = assert_one_line_error(run(sqlite_store, "audit", "verify"), 1, f"position {EVENTS_WRITTEN}:")
    assert "deleted" in line


def test_an_append_after_the_last_event_was_deleted_is_refused_and_appends_nothing(
    sqlite_store: Store,
) -> None:
    fill(sqlite_store)
    Tables(sqlite_store).delete(EVENTS_WRITTEN)
    count = event_count(sqlite_store)

    submit = run(sqlite_store, "submit", "--company", "acme", "--name", "x", "--type", "metadataPublishJob")

    assert_one_line_error(submit, 1, f"position {EVENTS_WRITTEN} was deleted behind the ledger's back")
    assert event_count(sqlite_store) == count
    assert "deleted" in assert_one_line_error(
        run(sqlite_store, "audit", "verify"), 1, f"position {EVENTS_WRITTEN}:"
    )


def test_a_ledger_that_remembers_the_deleted_head_refuses_too(sqlite_store: Store) -> None:
    handles = fill(sqlite_store)
    ledger = JobLedger(sqlite_store.db)
    try:
        ledger.record(
            [LogDetail(handle=handles.runs["waiting"], log_type="UploadSuccess", message="one")]
        )  # remembers the head
        last = ledger.head_position()
        Tables(sqlite_store).delete(last)

        with pytest.raises(StoreError, match=f"position {last} was deleted behind the ledger's back"):
            ledger.record(
                [LogDetail(handle=handles.runs["waiting"], log_type="UploadSuccess", message="two")]
            )
        assert ledger.event_count() == last - 1
    finally:
        ledger.close()


def test_writers_whose_remembered_heads_went_stale_link_after_each_other(sqlite_store: Store) -> None:
    handles = fill(sqlite_store)
    first, second = JobLedger(sqlite_store.db), JobLedger(sqlite_store.db)
    try:
        for n in range(6):  # each append lands after the other writer's, unknown to this one
            writer = first if n % 2 == 0 else second
            writer.record(
                [LogDetail(handle=handles.runs["waiting"], log_type="UploadSuccess", message=f"row {n}")]
            )
        assert audit.verify(first.reader) is None
        assert str(audit.digest(first.reader)) == str(audit.digest(second.reader)) == digest_of(sqlite_store)
        links = [link for _, _, link in Tables(sqlite_store).chain()]
        assert links == recomputed_links(Tables(sqlite_store).rows())
        assert len(links) == EVENTS_WRITTEN + 6
    finally:
        first.close()
        second.close()


# --- reading the chain back, page by page --------------------------------------------------------


@pytest.fixture
def chain_db() -> Iterator[sqlite3.Connection]:
    """Ten linked rows in a bare events table, written through SQLiteChain.append."""
    chain = SQLiteChain("stored_events")
    with closing(sqlite3.connect(":memory:", isolation_level=None)) as conn:
        conn.execute(chain.create_statement())
        head = EMPTY_HEAD
        for n in range(1, 11):
            _, head = chain.append(conn, [(f"{n:032x}", 1, "topic", bytes([n]))], head)
        yield conn


def read_all(conn: sqlite3.Connection, limit: int) -> list[tuple[int, int]]:
    """(position, ordinal) of every chain row, read in pages as `audit verify` does."""
    chain, rows, after = SQLiteChain("stored_events"), [], 0
    while page := chain.rows_after(conn, after, limit):
        rows.extend((position, ordinal) for position, ordinal, _ in page)
        after = page[-1][0]
    return rows


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 100])
def test_pages_of_any_size_give_each_row_once(chain_db: sqlite3.Connection, limit: int) -> None:
    assert read_all(chain_db, limit) == [(n, n) for n in range(1, 11)]


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 100])
@pytest.mark.parametrize(
    ("deleted", "named"),
    [((1,), [1]), ((4,), [4]), ((4, 5), [4]), ((10,), [10]), ((9, 10), [9]), ((3, 10), [3, 10])],
)
def test_each_run_of_deleted_positions_is_named_once_at_its_first(
    chain_db: sqlite3.Connection, limit: int, deleted: tuple[int, ...], named: list[int]
) -> None:
    chain_db.executemany("DELETE FROM stored_events WHERE rowid = ?", [(p,) for p in deleted])

    rows = read_all(chain_db, limit)

    assert [position for position, ordinal in rows if ordinal == -1] == named
    assert [position for position, ordinal in rows if ordinal != -1] == [
        n for n in range(1, 11) if n not in deleted
    ]


def test_the_rows_carry_their_own_links_and_the_marks_of_what_followed(chain_db: sqlite3.Connection) -> None:
    marks = [mark for (mark,) in chain_db.execute("SELECT chain_next FROM stored_events ORDER BY rowid")]
    assert marks == [1] * 9 + [0]
    assert "event_chain" not in {name for (name,) in chain_db.execute("SELECT name FROM sqlite_master")}
