"""The views database: view tables, their positions, and write transactions.

Tables are created with sqlite-utils. Bulk writes use `executemany` on the same connection:
sqlite-utils' upsert builds statements per call and dominated rebuild time when measured.
Every write transaction starts with BEGIN IMMEDIATE, so it waits for the write lock up front
instead of failing on a lock upgrade half way through.
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from jobledger.domain.errors import StoreError, ViewsMismatchError
from jobledger.projections.views import VIEWS, Key, View
from jobledger.store.reader import Undecodable
from jobledger.store.sqlite_lock import begin_immediate

if TYPE_CHECKING:  # sqlite-utils loads only to create tables: queries on existing views skip it
    import sqlite_utils

POSITIONS = "view_positions"
META = "views_meta"
QUARANTINE = "quarantine"
# The layout of the view tables: views stored under another layout are dropped and folded afresh.
# 2: primary keys declared, job_log_details carries jobHandle and companyHandle.
LAYOUT = 2
# Tables a rebuild fills aside are named {view}{ASIDE}_{token}_p{pid of the rebuilding process}.
ASIDE = "__rebuild"
_ASIDE_PID = re.compile(rf"{ASIDE}_[0-9a-f]+_p(\d+)$")
VIEW_NAMES = tuple(VIEWS)
BUSY_TIMEOUT_MS = 30_000
_IN_CHUNK = 500


def _connect(path: str) -> sqlite3.Connection:
    # URIs on, so that ATTACH can name a file read-only (_copy); the path itself is
    # never a URI (it does not start with file:), so it is opened as the plain name it is.
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, uri=True)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode=WAL")
    # Views can always be rebuilt from the events, and a view's rows and position commit
    # together: after a power cut they are at worst an earlier, consistent position.
    # So this connection skips the fsync per commit (the ledger's own writes keep FULL).
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _insert(view: View, table: str, verb: str, *, with_rowid: bool = False) -> str:
    """The statement inserting whole rows of a view (the rowid first, with `with_rowid`)."""
    columns = [*(["rowid"] if with_rowid else []), *(f"[{c}]" for c in view.codec.columns)]
    return f"{verb} INTO [{table}] ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def unwritable(path: str) -> str | None:
    """Why this process cannot write an existing views file ("read-only", or the device is full
    and SQLite cannot make the -wal and -shm files beside it), or None."""
    if path == ":memory:" or not os.path.exists(path):
        return None
    if not os.access(path, os.W_OK):
        return "read-only"
    folder = os.path.dirname(os.path.abspath(path))
    try:
        full = os.statvfs(folder).f_bavail == 0
    except OSError:
        full = False
    if os.access(folder, os.W_OK) and not full:
        return None
    try:  # SQLite may still open it, with the -wal and -shm files it finds
        conn = sqlite3.connect(path)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return f"no space left on the device holding {path}" if full else "read-only"
    return None


def _alive(pid: int) -> bool:
    """Whether a process of this machine has this id (another's process counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _attached(conn: sqlite3.Connection) -> bool:
    return any(row[1] == "source" for row in conn.execute("PRAGMA database_list"))


class ViewsDatabase:
    """The SQLite file holding the views (the ledger's own file when the store is SQLite)."""

    def __init__(self, path: str, *, store_identity: str) -> None:
        if Path(path).is_dir():
            raise StoreError(f"views path {path} is a directory; give a file path")
        # A file this process may not write (a read-only mount, permissions) is not opened at all:
        # its views are copied into memory and caught up there (see _copy).
        self.unwritable = unwritable(path)
        self.copied_from = path if self.unwritable else None
        try:
            self.conn = _connect(":memory:" if self.copied_from else path)
        except sqlite3.DatabaseError as err:
            raise StoreError(f"cannot open views database {path}: {err}") from None
        self.path = path
        if self.copied_from:
            self._copy(self.copied_from)
        self._check_store(store_identity)
        self._ensure_positions()

    @classmethod
    def reopen(cls, path: str) -> ViewsDatabase:
        """Another connection to views already opened (and so checked) elsewhere."""
        views = object.__new__(cls)
        views.conn = _connect(path)
        views.path = path
        views.copied_from = views.unwritable = None
        return views

    @cached_property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils on the same connection, for writing CREATE statements."""
        import sqlite_utils

        # No plugins: finding them scans every installed package (about 15 ms), and an
        # installed one could change how this connection behaves.
        return sqlite_utils.Database(self.conn, execute_plugins=False)

    def has_table(self, table: str) -> bool:
        """Whether the views file holds this table."""
        found = self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
        return found.fetchone() is not None

    def _attach(self, uri: str, path: str | None = None) -> None:
        try:
            self.conn.execute("ATTACH DATABASE ? AS source", (uri,))
            self.conn.execute("SELECT COUNT(*) FROM source.sqlite_master").fetchone()
        except sqlite3.OperationalError as err:
            if _attached(self.conn):
                self.conn.execute("DETACH DATABASE source")
            if path is None:
                raise
            raise StoreError(f"cannot read views database {path}: {err}") from None

    def _copy(self, path: str) -> None:
        """Copy the view tables, positions and quarantine of a file read-only (their schema with
        its keys and indexes, then the rows) into this in-memory database."""
        uri = f"file:{quote(str(Path(path).resolve()))}?mode=ro"
        try:
            self._attach(uri)
        except sqlite3.OperationalError:
            # In WAL mode a reader needs the -shm file, which a read-only file system may lack:
            # then the file is read as it stands (nobody can be writing it there).
            self._attach(uri + "&immutable=1", path)
        try:
            found = self.conn.execute(
                "SELECT type, name, tbl_name, sql FROM source.sqlite_master WHERE sql IS NOT NULL"
                " ORDER BY type = 'index'"
            ).fetchall()
            wanted = {META, POSITIONS, QUARANTINE, *VIEW_NAMES}
            for kind, name, table, sql in found:
                if table in wanted:
                    self.conn.execute(sql)
                    if kind == "table":
                        self.conn.execute(f"INSERT INTO main.[{name}] SELECT * FROM source.[{name}]")
        except sqlite3.DatabaseError as err:
            raise StoreError(f"cannot read views database {path}: {err}") from None
        finally:
            self.conn.execute("DETACH DATABASE source")

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    # --- transactions ------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        """One write transaction, taken with the write lock from the start."""
        # As often as `jobledger serve`'s writer asks for the same file's lock.
        begin_immediate(self.conn, BUSY_TIMEOUT_MS / 1000, BUSY_TIMEOUT_MS)
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error:
            # A COMMIT refused (a full disk) leaves the transaction open: the views stay as they were.
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    @contextmanager
    def reading(self) -> Iterator[None]:
        """One read transaction: every select inside sees the same snapshot."""
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    # --- schema ------------------------------------------------------------------------------

    # sqlite-utils writes the CREATE statements; they run inside our own BEGIN IMMEDIATE, since
    # its own deferred transactions fail outright ("database is locked") when another process
    # commits between their first read and their first write.

    def _check_store(self, identity: str) -> None:
        # Positions only mean something for the store they were read from.
        with self.writing():
            self.conn.execute(f"CREATE TABLE IF NOT EXISTS {META} (key TEXT PRIMARY KEY, value TEXT)")
            self.conn.execute(f"INSERT OR IGNORE INTO {META} (key, value) VALUES ('store', ?)", (identity,))
            row = self.conn.execute(f"SELECT value FROM {META} WHERE key = 'store'").fetchone()
        if row[0] != identity:
            raise ViewsMismatchError(f"views database {self.path} was built from another store ({row[0]})")

    def _ensure_positions(self) -> None:
        if self.has_table(POSITIONS) and self.has_table(QUARANTINE) and self._layout() == str(LAYOUT):
            return  # as it nearly always is: no write transaction, no sqlite-utils
        with self.writing():
            sql = self.db.create_table_sql(POSITIONS, {"view": str, "position": int}, pk="view")
            self.conn.execute(sql.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))
            self.conn.execute(
                f"CREATE TABLE IF NOT EXISTS {QUARANTINE} (position INTEGER PRIMARY KEY,"
                " originator_id TEXT, topic TEXT, error TEXT, seen_at TEXT)"
            )
            found = self.conn.execute(f"SELECT value FROM {META} WHERE key = 'layout'").fetchone()
            if found is None or found[0] != str(LAYOUT):
                self._drop_views()

    def _layout(self) -> str | None:
        try:
            found = self.conn.execute(f"SELECT value FROM {META} WHERE key = 'layout'").fetchone()
        except sqlite3.OperationalError:  # no meta table yet
            return None
        return str(found[0]) if found else None

    def _drop_views(self) -> None:
        """Views of another layout (or none yet): dropped, to be folded afresh by the next catch-up
        (which takes the bulk path when there is much to fold)."""
        tables = [
            name
            for (name,) in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if any(name == view or name.startswith(f"{view}{ASIDE}") for view in VIEWS)
        ]
        for table in tables:
            self.conn.execute(f"DROP TABLE [{table}]")
        self.conn.execute(f"DELETE FROM {POSITIONS}")
        self.conn.execute(f"DELETE FROM {QUARANTINE}")
        self.conn.execute(
            f"INSERT INTO {META} (key, value) VALUES ('layout', ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (str(LAYOUT),),
        )

    def ensure_views(self) -> None:
        """Create every view's table (and indexes) that is missing."""
        for view in VIEWS.values():
            self.ensure_table(view, view.name)

    def ensure_table(self, view: View, table: str) -> None:
        """Create a view's table and indexes if they are missing."""
        if not self.has_table(table):
            with self.writing():
                if not self.has_table(table):
                    self._create(view, table)

    def create_table(self, view: View, table: str, *, indexes: bool = True) -> None:
        """Create a view's table afresh; without `indexes`, add them later with create_indexes."""
        with self.writing():
            self._create(view, table, indexes=indexes)

    def _create(self, view: View, table: str, *, indexes: bool = True) -> None:
        self.conn.execute(f"DROP TABLE IF EXISTS [{table}]")
        # The key is the table's declared PRIMARY KEY (a rowid table still: a rebuild writes each
        # run's job-log row into a rowid slot of its own). Keeping it as a unique index built once
        # the rows were in measured no faster for a rebuild of 200,000 events, within the noise.
        self.conn.execute(self.db.create_table_sql(table, view.codec.sql_types(), pk=view.key_columns))
        if indexes:
            self.create_indexes(view, table)
        self.set_position(table, 0)

    def create_indexes(self, view: View, table: str) -> None:
        """A view's secondary indexes, named uniquely (tables get renamed); the key is the table's own."""
        # One random token per table's set, numbered within it: two indexes of one set named
        # by random suffixes alone collided once in 65,536 (a test caught it).
        token = secrets.token_hex(4)
        for number, columns in enumerate(view.indexes, 1):
            name = f"ix_{view.name}_{token}_{number}"
            self.conn.execute(f"CREATE INDEX [{name}] ON [{table}] ({', '.join(columns)})")

    def aside_name(self, view: str) -> str:
        """A new name for a table a rebuild of this process fills aside: never another's."""
        return f"{view}{ASIDE}_{secrets.token_hex(4)}_p{os.getpid()}"

    def abandoned(self) -> list[str]:
        """The tables a rebuild filled aside and never swapped in because its process is gone
        (killed); a rebuild still running elsewhere is not one of them."""
        names = [row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return [
            name for name in names if (match := _ASIDE_PID.search(name)) and not _alive(int(match.group(1)))
        ]

    def drop_abandoned(self) -> list[str]:
        """Drop the tables of rebuilds that no longer run (see `abandoned`); the names dropped."""
        with self.writing():
            abandoned = self.abandoned()
            for name in abandoned:
                self.drop_table(name)
        return abandoned

    def drop_table(self, table: str) -> None:
        """Drop a table and forget its position."""
        self.conn.execute(f"DROP TABLE IF EXISTS [{table}]")
        self.conn.execute(f"DELETE FROM {POSITIONS} WHERE view = ?", (table,))

    def rename_table(self, old: str, new: str) -> None:
        """Replace table `new` by `old`, moving its position along."""
        self.drop_table(new)
        self.conn.execute(f"ALTER TABLE [{old}] RENAME TO [{new}]")
        self.conn.execute(f"UPDATE {POSITIONS} SET view = ? WHERE view = ?", (new, old))

    # --- positions ---------------------------------------------------------------------------

    def positions(self, tables: Iterable[str]) -> dict[str, int]:
        """Each table's position; a table without one is at 0."""
        found = dict(self.conn.execute(f"SELECT view, position FROM {POSITIONS}").fetchall())
        return {table: int(found.get(table, 0)) for table in tables}

    def set_position(self, table: str, position: int) -> None:
        """Record how far a table has folded the event stream."""
        self.conn.execute(
            f"INSERT INTO {POSITIONS} (view, position) VALUES (?, ?) "
            "ON CONFLICT(view) DO UPDATE SET position = excluded.position",
            (table, position),
        )

    # --- quarantine --------------------------------------------------------------------------

    def quarantine(self, entries: Iterable[Undecodable], *, replace: bool = False) -> None:
        """Record stored events the views passed without folding (inside the caller's write
        transaction, with the positions that move past them); `replace` forgets earlier entries."""
        if replace:
            self.conn.execute(f"DELETE FROM {QUARANTINE}")
        self.conn.executemany(
            f"INSERT OR IGNORE INTO {QUARANTINE} (position, originator_id, topic, error, seen_at)"
            " VALUES (?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            [(u.position, u.originator_id, u.topic, u.reason) for u in entries],
        )

    def quarantined(self) -> list[Undecodable]:
        """The events the views passed without folding, in position order."""
        return [
            Undecodable(*row)
            for row in self.conn.execute(
                f"SELECT position, originator_id, topic, error FROM {QUARANTINE} ORDER BY position"
            )
        ]

    # --- rows --------------------------------------------------------------------------------

    def load(self, view: View, table: str, keys: Sequence[Key]) -> dict[Key, Any]:
        """The stored rows for these keys (single-column keys only), as Structs."""
        assert len(view.key_columns) == 1, "only single-column keys are read back"
        column = view.key_columns[0]
        found: dict[Key, Any] = {}
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = [key[0] for key in keys[start : start + _IN_CHUNK]]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT * FROM [{table}] WHERE [{column}] IN ({marks})"
            for values in self.conn.execute(sql, chunk):
                found[(values[view.codec.columns.index(column)],)] = view.codec.decode(values)
        return found

    def run_names(self, table: str, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """(job handle, company) by run id (hex) from a job_logs table, for the runs it holds."""
        return {hexid: (handle, company) for hexid, handle, company in self._runs(table, ids, "jobHandle")}

    def run_facts(self, table: str, ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """(company, outcome) by run id (hex) from a job_logs table, for the runs it holds."""
        return {
            hexid: (company, outcome or None) for hexid, outcome, company in self._runs(table, ids, "outcome")
        }

    def _runs(self, table: str, ids: Sequence[str], column: str) -> Iterator[tuple[str, Any, str]]:
        """(id, `column`, company) of the runs of a job_logs table with these ids (hex)."""
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            yield from self.conn.execute(
                f"SELECT id, [{column}], companyHandle FROM [{table}] WHERE id IN ({marks})", chunk
            )

    def write(self, view: View, table: str, changed: dict[Key, Any]) -> None:
        """Upsert the changed rows and delete the rows that became None."""
        upserts = [view.codec.encode(row) for row in changed.values() if row is not None]
        deletes = [key for key, row in changed.items() if row is None]
        if upserts:
            self.conn.executemany(_insert(view, table, "INSERT OR REPLACE"), upserts)
        if deletes:
            where = " AND ".join(f"[{c}] = ?" for c in view.key_columns)
            self.conn.executemany(f"DELETE FROM [{table}] WHERE {where}", deletes)

    def append(self, view: View, table: str, rows: Sequence[Any], slots: Sequence[int] | None = None) -> None:
        """Write a rebuild's rows into a table that has no secondary indexes yet: appended, or each
        into its slot (rowid), replacing what an earlier write put there."""
        encode = view.codec.encode
        if slots is None:
            self.conn.executemany(_insert(view, table, "INSERT"), map(encode, rows))
        else:
            self.conn.executemany(
                _insert(view, table, "INSERT OR REPLACE", with_rowid=True),
                [(slot, *encode(row)) for slot, row in zip(slots, rows, strict=True)],
            )

    def rows(self, table: str) -> list[tuple[Any, ...]]:
        """Every stored row of a table, in key order."""
        return list(self.conn.execute(f"SELECT * FROM [{table}] ORDER BY 1, 2"))

    def count(self, table: str) -> int:
        """How many rows a table holds."""
        return int(self.conn.execute(f"SELECT COUNT(*) FROM [{table}]").fetchone()[0])

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query."""
        return list(self.conn.execute(sql, params))
