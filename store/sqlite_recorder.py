"""The SQLite recorder: batches in one executemany, each event linked into the hash chain in its row."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder

from .chain import ChainRow
from .sqlite_chain import Head, Row, SQLiteChain
from .sqlite_lock import begin_immediate

# (position, originator id as hex, version, topic, state): a state is text (str) only where it
# was changed to text outside the ledger.
RawRow = tuple[int, str, int, str, bytes | str]

SQLITE_LOCK_TIMEOUT_SECONDS = 30


class FastSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """Inserts a batch with one executemany, each event linked into the hash chain in its own row.

    The stock recorder runs one statement per row to collect each `lastrowid`. Inside the write
    transaction rowids are assigned consecutively, so the batch's ids follow from the maximum.
    The links are written with the events (store/sqlite_chain.py), so an event that was not
    appended through the ledger has no link.

    Appends go through one long-lived connection of this recorder's own, with a statement cache,
    and the chain's head is remembered between appends; measured, the library's pooled connections
    (which compile every statement anew) and re-reading the head took a third of an append.
    Reads still use the library's pool.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._writer: sqlite3.Connection | None = None
        self._writer_lock = threading.Lock()
        self._chain_head: Head | None = None
        self._hold = False  # appends leave their transaction open for commit_held()
        self._begun = False  # begin_held() opened the transaction the next append writes in

    def construct_create_table_statements(self) -> list[str]:
        return [self._chain.create_statement()]

    @cached_property
    def _chain(self) -> SQLiteChain:
        # The library asks for the create statements from its own __init__, before ours runs.
        return SQLiteChain(self.events_table_name)

    def create_table(self) -> None:
        super().create_table()
        with self.datastore.transaction(commit=False) as c:
            current = self._chain.has_columns(c.sqlite_cursor)
        if not current:  # a ledger written before the chain moved into the event rows
            with self._writer_lock:
                self._chain.migrate(self._writer or self._writer_connection())

    def _writer_connection(self) -> sqlite3.Connection:
        if self._writer is None:
            pool = self.datastore.pool
            self._writer = sqlite3.connect(
                pool.db_name,
                uri=True,
                isolation_level=None,
                check_same_thread=False,
                cached_statements=128,
                timeout=pool.lock_timeout or SQLITE_LOCK_TIMEOUT_SECONDS,
            )
        return self._writer

    def bulk_target(self) -> tuple[str, str, float]:
        """(database name, events table, lock timeout) for a bulk appender of our own
        (store/appender.py), so that it waits for the write lock as long as this recorder does."""
        pool = self.datastore.pool
        return pool.db_name, self.events_table_name, pool.lock_timeout or SQLITE_LOCK_TIMEOUT_SECONDS

    @contextmanager
    def holding_commit(self) -> Iterator[None]:
        """Appends made inside leave their transaction open: commit_held() makes them durable."""
        self._hold = True
        try:
            yield
        finally:
            self._hold = False

    def begin_held(self) -> None:
        """Open the next append's transaction now, with the write lock (waiting for it here,
        which may be another thread than the append's)."""
        with self._writer_lock:
            conn = self._writer or self._writer_connection()
            if conn.in_transaction:
                return
            timeout = self.datastore.pool.lock_timeout or SQLITE_LOCK_TIMEOUT_SECONDS
            try:
                begin_immediate(conn, timeout, int(timeout * 1000))
            except sqlite3.Error as err:
                raise OperationalError(err) from err
            self._begun = True

    def commit_held(self) -> None:
        """Commit what held appends wrote (from any thread; the fsync releases the GIL). On a
        failure nothing of it stays, and the error is raised."""
        with self._writer_lock:
            conn = self._writer
            self._begun = False
            if conn is None or not conn.in_transaction:
                return
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as err:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                self._chain_head = None
                raise OperationalError(err) from err

    def forget_chain_head(self) -> None:
        """Re-read the chain's head at the next append (someone else appended meanwhile)."""
        with self._writer_lock:
            self._chain_head = None

    def close_writer(self) -> None:
        """Close the append connection (reopened on the next append)."""
        with self._writer_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        return self.insert_rows(
            [(s.originator_id.hex, s.originator_version, s.topic, s.state) for s in stored_events]  # type: ignore[union-attr]
        )

    def insert_rows(self, rows: Sequence[Row]) -> list[int]:
        """Append stored events given as rows (id as hex, version, topic, state) in one
        transaction, linked into the chain; their positions. The ledger's own path: no
        StoredEvent objects to build for what is written as a row anyway."""
        if not rows:
            return []
        with self._writer_lock:
            conn = self._writer or self._writer_connection()
            head = self._chain_head
            begun, self._begun = self._begun, False
            if conn.in_transaction and not begun:
                # One append per held commit: a failure of a second would roll back the first.
                raise RuntimeError("an append while another's commit is held")
            try:
                if begun:
                    head = head or self._chain.head(conn)
                elif head is None:
                    # The head is read first, and a read lock that must later become a write
                    # lock could fail at once, so the write lock is taken up front.
                    conn.execute("BEGIN IMMEDIATE")
                    head = self._chain.head(conn)
                else:
                    # The insert is the first statement and takes the write lock itself
                    # (waiting, with the busy timeout). (IMMEDIATE costs ~5 us more per append.)
                    conn.execute("BEGIN")
                positions, head = self._chain.append(conn, rows, head)
                if not self._hold:
                    conn.execute("COMMIT")
            except sqlite3.Error as err:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                self._chain_head = None
                if isinstance(err, sqlite3.IntegrityError):
                    raise IntegrityError(err) from err
                raise OperationalError(err) from err
            self._chain_head = head
        return list(positions)

    def select_stored(self, after: int, stop: int, limit: int) -> list[RawRow]:
        """(position, originator id as hex, version, topic, state) after a position, up to `stop`;
        a state changed to text outside the ledger comes back as text (str)."""
        return self._select_raw(
            " WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?", (after, stop, limit)
        )

    def select_stored_of(self, originator_id: UUID, limit: int) -> list[RawRow]:
        """The first stored events of an aggregate, with their positions, as select_stored gives them."""
        where = " WHERE originator_id = ? ORDER BY originator_version LIMIT ?"
        return self._select_raw(where, (originator_id.hex, limit))

    def _select_raw(self, where: str, params: tuple[Any, ...]) -> list[RawRow]:
        try:
            with self.datastore.transaction(commit=False) as c:
                c.execute(
                    "SELECT rowid, originator_id, originator_version, topic, state"
                    f" FROM {self.events_table_name}{where}",
                    params,
                )
                return [tuple(row) for row in c.fetchall()]
        except OperationalError as err:
            if not isinstance(err.__cause__, sqlite3.OperationalError) or "decode" not in str(err):
                raise
        # A state changed to text that is not UTF-8: sqlite3 cannot hand it over as text, so it
        # is read as bytes and marked as text again (the reader reports it, never folds it).
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT rowid, originator_id, originator_version, topic, CAST(state AS BLOB),"
                f" typeof(state) = 'text' FROM {self.events_table_name}" + where,
                params,
            )
            return [
                (at, hexid, version, topic, state.decode(errors="surrogateescape") if text else state)
                for at, hexid, version, topic, state, text in c.fetchall()
            ]

    def count_events(self) -> int:
        """How many events are stored."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT COUNT(*) FROM {self.events_table_name}")
            return int(c.fetchone()[0])

    def last_chain_row(self) -> ChainRow | None:
        """The head of the chain."""
        with self.datastore.transaction(commit=False) as c:
            return self._chain.last(c.sqlite_cursor)

    def select_chain(self, after: int, limit: int) -> list[ChainRow]:
        """Chain rows after a position, in order (with a row for a deleted event, see SQLiteChain)."""
        with self.datastore.transaction(commit=False) as c:
            return self._chain.rows_after(c.sqlite_cursor, after, limit)
