"""The hash chain as SQLite stores it: in the event rows themselves.

Each row of the events table carries its own link (`chain_ordinal`, `chain_link`), and a mark,
`chain_next`, set to 1 when the next position is appended. Measured, a chain table of its own cost
one more page written per commit, about 7% of a one-command append; the row before the new one
nearly always sits in the page the insert writes anyway.

A deleted event stays detectable: positions (rowids) never skip, so one deleted in the middle
leaves a gap, and the last one leaves its predecessor marked as followed. An append that would
take a deleted event's position is refused (ChainBrokenError) rather than linked over it.

The ledger's recorder (store/sqlite_recorder.py) and its bulk appender (store/appender.py) both
append through `SQLiteChain.append`, inside a write transaction of their own.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from typing import TypeAlias

from .chain import GENESIS, ChainRow, continue_chain, link_bytes

Row = tuple[str, int, str, bytes]  # an event as the events table holds it: id as hex, version, topic, state
Head = tuple[int, int, bytes]  # (position, ordinal, link) of the last linked event; (0, 0, GENESIS) if none
EMPTY_HEAD: Head = (0, 0, GENESIS)
COLUMNS = {"chain_ordinal": "INTEGER", "chain_link": "BLOB", "chain_next": "INTEGER NOT NULL DEFAULT 0"}
Executor: TypeAlias = sqlite3.Connection | sqlite3.Cursor  # both have execute() returning a cursor
OLD_CHAIN_TABLE = "event_chain"  # where ledgers written before 2026-11-28 kept the chain
# Rows a multi-row INSERT carries (7 parameters each, under SQLite's 32,766). One statement of
# many rows, not executemany: sqlite3 releases the GIL around every step, and a writer thread
# sharing the GIL with a busy event loop waits to take it back after each release.
MULTI_ROWS = 1000
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ChainBrokenError(sqlite3.DatabaseError):
    """An append would have covered up a deleted event."""


class SQLiteChain:
    """The chain columns of one events table: appending linked rows, reading the chain back."""

    def __init__(self, table: str) -> None:
        if not _IDENTIFIER.fullmatch(table):
            raise ValueError(f"not a table name: {table!r}")
        self.table = table
        self.insert = (
            f"INSERT INTO {table} (originator_id, originator_version, topic, state,"
            " chain_ordinal, chain_link, chain_next) VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        self._mark_next = f"UPDATE {table} SET chain_next = 1 WHERE rowid = ? AND chain_next = 0"
        self._relink = f"UPDATE {table} SET chain_ordinal = ?, chain_link = ? WHERE rowid = ?"
        self._insert_rows = self.insert.rpartition(" VALUES ")[0] + " VALUES "
        self._inserts: dict[int, str] = {}
        self._head_before = (
            f"SELECT rowid, chain_ordinal, chain_link FROM {table}"
            " WHERE rowid < ? AND chain_link IS NOT NULL ORDER BY rowid DESC LIMIT 1"
        )
        self._after = (
            f"SELECT rowid, chain_ordinal, chain_link, chain_next FROM {table}"
            " WHERE rowid > ? ORDER BY rowid LIMIT ?"
        )

    def _insert_many(self, count: int) -> str:
        """One INSERT of `count` rows."""
        statement = self._inserts.get(count)
        if statement is None:
            statement = self._inserts[count] = self._insert_rows + ", ".join(
                ["(?, ?, ?, ?, ?, ?, ?)"] * count
            )
        return statement

    def create_statement(self) -> str:
        """The events table, eventsourcing's shape with the chain columns after it."""
        columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
        return (
            f"CREATE TABLE IF NOT EXISTS {self.table} (originator_id TEXT, originator_version INTEGER,"
            f" topic TEXT, state BLOB, {columns}, PRIMARY KEY (originator_id, originator_version))"
        )

    # --- appending (inside the caller's write transaction) ----------------------------------------

    def head(self, conn: Executor, before: int = 2**63 - 1) -> Head:
        """The last linked event before a position."""
        row = conn.execute(self._head_before, (before,)).fetchone()
        return (row[0], row[1], bytes(row[2])) if row else EMPTY_HEAD

    def append(self, conn: sqlite3.Connection, rows: Sequence[Row], head: Head) -> tuple[range, Head]:
        """Insert rows linked after `head`; their positions, and the chain's new head.

        The links are computed before the insert, from the head the caller knows (it remembers
        it between appends). If another writer appended since, the rows land after its events
        and are linked again from the real head: rare, and still in this transaction.
        """
        ordinal, link = head[1], head[2]
        if len(rows) == 1:  # one command's event: its rowid comes back with the insert
            row = rows[0]
            ordinal += 1
            link = link_bytes(link, bytes.fromhex(row[0]), row[1], row[2], row[3])
            last = conn.execute(self.insert, (*row, ordinal, link, 0)).lastrowid or 0
        else:
            # The links' first field numbers the rows here: their positions come from the insert.
            links = continue_chain(head[1:], range(len(rows)), rows, bytes.fromhex)
            followed = len(rows) - 1  # every row but the last has its successor in the batch
            linked = [
                (*row, o, chain_link, int(n < followed))
                for row, (n, o, chain_link) in zip(rows, links, strict=True)
            ]
            last = 0
            for start in range(0, len(linked), MULTI_ROWS):
                chunk = linked[start : start + MULTI_ROWS]
                values = [value for row in chunk for value in row]
                last = conn.execute(self._insert_many(len(chunk)), values).lastrowid or 0
            _, ordinal, link = links[-1]
        first = last - len(rows) + 1
        if first != head[0] + 1:  # rows were appended after the head we knew
            real = self.head(conn, before=first)
            if real != head:
                links = continue_chain(real[1:], range(first, last + 1), rows, bytes.fromhex)
                conn.executemany(self._relink, [(o, chain_link, p) for p, o, chain_link in links])
                _, ordinal, link = links[-1]
        if first > 1 and conn.execute(self._mark_next, (first - 1,)).rowcount != 1:
            # The row before was already followed: what followed it was deleted behind the
            # ledger's back, and these rows took its place. Linking them would hide that.
            raise ChainBrokenError(
                f"the event at position {first} was deleted behind the ledger's back; nothing was appended"
            )
        return range(first, last + 1), (last, ordinal, link)

    # --- reading --------------------------------------------------------------------------------

    def last(self, conn: Executor) -> ChainRow | None:
        """The head of the chain as stored."""
        head = self.head(conn)
        return None if head == EMPTY_HEAD else head

    def rows_after(self, conn: Executor, after: int, limit: int) -> list[ChainRow]:
        """Chain rows after a position, in order, with a row for each deleted event as well.

        SQLite gives a new row the rowid after the largest, so positions never skip: a gap is
        a deleted event, and so is a last row marked as followed. Such a position comes with no
        link (ordinal -1, b""), so verification names it as deleted.
        """
        found = conn.execute(self._after, (after, limit + 1)).fetchall()
        chain: list[ChainRow] = []
        expected = after + 1
        for position, ordinal, link, _ in found[:limit]:
            if position != expected:
                chain.append((expected, -1, b""))
            if link is not None:
                chain.append((position, ordinal, bytes(link)))
            expected = position + 1
        if found and len(found) <= limit and found[-1][3]:
            chain.append((expected, -1, b""))
        return chain

    # --- ledgers written before the chain moved into the rows -----------------------------------

    def has_columns(self, conn: Executor) -> bool:
        """Whether the events table has the chain columns (or does not exist yet)."""
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({self.table})")}
        return not present or set(COLUMNS) <= present

    def migrate(self, conn: sqlite3.Connection) -> None:
        """Add the chain columns to an events table that lacks them, taking the links from the old
        chain table; in one transaction, under the write lock, so a second process opening the
        file meanwhile waits, then finds nothing to do."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            if not self.has_columns(conn):
                self._move_chain(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _move_chain(self, conn: sqlite3.Connection) -> None:
        for name, kind in COLUMNS.items():
            conn.execute(f"ALTER TABLE {self.table} ADD COLUMN {name} {kind}")
        old = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (OLD_CHAIN_TABLE,)).fetchone()
        if old is None:
            return
        conn.execute(
            f"UPDATE {self.table} SET (chain_ordinal, chain_link) ="
            f" (SELECT ordinal, link FROM {OLD_CHAIN_TABLE} WHERE position = {self.table}.rowid)"
        )
        # A link without its event (one deleted behind the ledger's back) stays visible as a mark.
        conn.execute(
            f"UPDATE {self.table} SET chain_next = 1"
            f" WHERE rowid IN (SELECT position - 1 FROM {OLD_CHAIN_TABLE})"
        )
        conn.execute(f"DROP TABLE {OLD_CHAIN_TABLE}")
