"""How events are stored: the msgspec mapper, a faster SQLite recorder, and opening a store by URL.

The stored state of an event is the whole event Struct encoded with msgspec's MessagePack
encoder (the README's design notes give the measurement behind that choice). The topic names the
event class; a class that has evolved stores `topic#N` for its version N so upcasters can find
old encodings.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse
from uuid import UUID

import msgspec
from eventsourcing.persistence import (
    IntegrityError,
    Mapper,
    OperationalError,
    StoredEvent,
    Transcoder,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import get_topic
from psycopg.sql import SQL, Identifier

from .chain import ChainRow, continue_chain, uuid_bytes
from .errors import StoreError, UndecodableEventError
from .events import EVENT_TYPES, DomainEvent, ProgressUpdated
from .schedule_events import SCHEDULE_EVENT_TYPES
from .sqlite_chain import ChainBrokenError, Head, Row, SQLiteChain

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# Upcasters by (event class, stored version): each brings a decoded dict one version forward.
UPCASTERS: dict[tuple[type[DomainEvent], int], Upcaster] = {}
ALL_EVENT_TYPES: tuple[type[DomainEvent], ...] = (*EVENT_TYPES, *SCHEDULE_EVENT_TYPES)


def _progress_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # Version 1 reports did not name their server; say so rather than guess.
    return {**data, "serverName": None}


UPCASTERS[(ProgressUpdated, 1)] = _progress_v1_to_v2


class NullTranscoder(Transcoder):
    """The mapper encodes whole Structs itself; the library's transcoder is never asked."""

    def encode(self, obj: Any) -> bytes:
        raise NotImplementedError("events are encoded by MsgspecMapper")

    def decode(self, data: bytes) -> Any:
        raise NotImplementedError("events are decoded by MsgspecMapper")


def event_topic(cls: type[DomainEvent]) -> str:
    """The stored topic of an event class at its current version."""
    topic = get_topic(cls)
    return topic if cls.class_version == 1 else f"{topic}#{cls.class_version}"


class MsgspecMapper(Mapper[UUID]):
    """Stores each event as one MessagePack document, decoded by type with decoders built once."""

    def __init__(self, transcoder: Transcoder | None = None, **kwargs: Any) -> None:
        super().__init__(transcoder=transcoder or NullTranscoder(), **kwargs)
        self._encode = msgspec.msgpack.Encoder().encode
        self._topics: dict[type[DomainEvent], str] = {cls: event_topic(cls) for cls in ALL_EVENT_TYPES}
        self._decoders: dict[str, Callable[[bytes], DomainEvent]] = {
            topic: msgspec.msgpack.Decoder(cls).decode for cls, topic in self._topics.items()
        }
        self._old: dict[str, tuple[type[DomainEvent], int]] = {}
        for cls in ALL_EVENT_TYPES:
            base = get_topic(cls)
            for version in range(1, cls.class_version):
                self._old[base if version == 1 else f"{base}#{version}"] = (cls, version)

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        """Encode an event for the recorder."""
        state = self._encode(domain_event)
        if self.compressor:
            state = self.compressor.compress(state)
        if self.cipher:
            state = self.cipher.encrypt(state)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=self._topics[type(domain_event)],
            state=state,
        )

    def to_row(self, domain_event: DomainEvent) -> Row:
        """The event as our SQLite recorder stores it: (id as hex, version, topic, state). Only
        with no cipher or compressor configured (the ledger checks)."""
        return (
            domain_event.originator_id.hex,
            domain_event.originator_version,
            self._topics[type(domain_event)],
            self._encode(domain_event),
        )

    def decode_state(self, topic: str, state: bytes, position: int | None = None) -> DomainEvent:
        """Decode stored bytes of a topic (no cipher or compressor is configured here)."""
        try:
            decode = self._decoders.get(topic)
            return decode(state) if decode is not None else self._upcast(topic, state)
        except (msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError) as err:
            raise _undecodable(topic, f"at position {position}", err) from None

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        """Decode a stored event, upcasting an old encoding to the current class."""
        state = stored_event.state
        try:
            if self.cipher:
                state = self.cipher.decrypt(state)
            if self.compressor:
                state = self.compressor.decompress(state)
            decode = self._decoders.get(stored_event.topic)
            if decode is not None:
                return decode(state)
            return self._upcast(stored_event.topic, state)
        except (msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError) as err:
            where = f"of {stored_event.originator_id} version {stored_event.originator_version}"
            raise _undecodable(stored_event.topic, where, err) from None

    def _upcast(self, topic: str, state: bytes) -> DomainEvent:
        if topic not in self._old:
            raise KeyError(f"unknown event type {topic!r} (written by a newer jobledger?)")
        cls, version = self._old[topic]
        data: dict[str, Any] = msgspec.msgpack.decode(state)
        while version < cls.class_version:
            data = UPCASTERS[(cls, version)](data)
            version += 1
        return msgspec.convert(data, type=cls)


def chain_rows(
    previous: tuple[int, bytes] | None, positions: Sequence[int], stored_events: Sequence[StoredEvent]
) -> list[ChainRow]:
    """Chain rows for newly stored events, continuing from the last (ordinal, link)."""
    events = [(s.originator_id, s.originator_version, s.topic, s.state) for s in stored_events]
    return continue_chain(previous, positions, events, uuid_bytes)


def _undecodable(topic: str, where: str, err: Exception) -> UndecodableEventError:
    reason = str(err).strip("'\"") or type(err).__name__
    return UndecodableEventError(
        f"a stored event {where} ({topic}) cannot be read: {reason}; "
        "run `jobledger audit verify` to see whether the ledger was changed"
    )


class FastSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """Inserts a batch with one executemany, each event linked into the hash chain in its own row.

    The stock recorder runs one statement per row to collect each `lastrowid`. Inside the write
    transaction rowids are assigned consecutively, so the batch's ids follow from the maximum.
    The links are written with the events (domain/sqlite_chain.py), so an event that was not
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
        (domain/appender.py), so that it waits for the write lock as long as this recorder does."""
        pool = self.datastore.pool
        return pool.db_name, self.events_table_name, pool.lock_timeout or SQLITE_LOCK_TIMEOUT_SECONDS

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
            try:
                if head is None:
                    # The head is read first, and a read lock that must later become a write
                    # lock could fail at once, so the write lock is taken up front.
                    conn.execute("BEGIN IMMEDIATE")
                    head = self._chain.head(conn)
                else:
                    # The insert is the first statement and takes the write lock itself
                    # (waiting, with the busy timeout). (IMMEDIATE costs ~5 us more per append.)
                    conn.execute("BEGIN")
                positions, head = self._chain.append(conn, rows, head)
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


class ChainedPostgresApplicationRecorder(PostgresApplicationRecorder):
    """The PostgreSQL recorder, linking each batch into the hash chain in its own transaction.

    The stock recorder holds an EXCLUSIVE lock on the events table while it inserts, so reading the
    last link and writing the next ones cannot interleave with another writer.
    """

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.chain_table = Identifier(f"{self.events_table_name}_chain")
        self.schema = Identifier(self.datastore.schema)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{table} ("
                "position bigint PRIMARY KEY, ordinal bigint NOT NULL UNIQUE, link bytea NOT NULL)"
            ).format(schema=self.schema, table=self.chain_table)
        )

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs) or []
        curs.execute(
            SQL("SELECT ordinal, link FROM {schema}.{table} ORDER BY position DESC LIMIT 1").format(
                schema=self.schema, table=self.chain_table
            )
        )
        row = curs.fetchone()
        previous = (row["ordinal"], bytes(row["link"])) if row else None
        curs.executemany(
            SQL("INSERT INTO {schema}.{table} (position, ordinal, link) VALUES (%s, %s, %s)").format(
                schema=self.schema, table=self.chain_table
            ),
            chain_rows(previous, positions, stored_events),
        )
        return positions

    def count_events(self) -> int:
        """How many events are stored."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT COUNT(*) AS n FROM {schema}.{table}").format(
                    schema=self.schema, table=Identifier(self.events_table_name)
                )
            )
            row = curs.fetchone()
            assert row is not None
            return int(row["n"])

    def last_chain_row(self) -> ChainRow | None:
        """The head of the chain."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL(
                    "SELECT position, ordinal, link FROM {schema}.{table} ORDER BY position DESC LIMIT 1"
                ).format(schema=self.schema, table=self.chain_table)
            )
            row = curs.fetchone()
            return (row["position"], row["ordinal"], bytes(row["link"])) if row else None

    def select_chain(self, after: int, limit: int) -> list[ChainRow]:
        """Chain rows after a position, in order."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL(
                    "SELECT position, ordinal, link FROM {schema}.{table} WHERE position > %s "
                    "ORDER BY position LIMIT %s"
                ).format(schema=self.schema, table=self.chain_table),
                (after, limit),
            )
            return [(row["position"], row["ordinal"], bytes(row["link"])) for row in curs.fetchall()]


SQLITE_LOCK_TIMEOUT_SECONDS = 30
_SQLITE_MAGIC = b"SQLite format 3\x00"


def is_postgres_url(db: str) -> bool:
    """Whether --db names a PostgreSQL server rather than an SQLite file."""
    return db.startswith(("postgresql://", "postgres://"))


def store_env(db: str, *, create: bool = True) -> dict[str, str]:
    """The eventsourcing environment for a --db value; refuses paths that cannot be a ledger."""
    env = {
        "MAPPER_TOPIC": get_topic(MsgspecMapper),
        "ORIGINATOR_ID_TYPE": "uuid",
        # The library would otherwise read our own settings from os.environ as well.
        "IS_SNAPSHOTTING_ENABLED": "no",
    }
    if is_postgres_url(db):
        env.update(_postgres_env(db))
        env["APPLICATION_RECORDER_TOPIC"] = get_topic(ChainedPostgresApplicationRecorder)
        return env
    path = Path(db)
    _check_sqlite_path(path, create=create)
    env.update(
        {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": str(SQLITE_LOCK_TIMEOUT_SECONDS),
            "APPLICATION_RECORDER_TOPIC": get_topic(FastSQLiteApplicationRecorder),
        }
    )
    return env


def _check_sqlite_path(path: Path, *, create: bool) -> None:
    if path.is_dir():
        raise StoreError(f"database path {path} is a directory; give a file path")
    if not path.exists():
        if not create:
            raise StoreError(f"no ledger at {path}; submit a job or run `jobledger demo` first")
        if not path.parent.is_dir():
            raise StoreError(f"cannot create a ledger at {path}: folder {path.parent} does not exist")
        return
    try:
        with path.open("rb") as f:
            header = f.read(len(_SQLITE_MAGIC))
    except OSError as err:
        raise StoreError(f"cannot read database {path}: {err.strerror}") from None
    if header and header != _SQLITE_MAGIC:
        raise StoreError(f"{path} is not a jobledger database (not an SQLite file)")
    if not header:
        return
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        finally:
            conn.close()
    except sqlite3.Error as err:
        raise StoreError(f"{path} is not a jobledger database: {err}") from None
    if tables and "stored_events" not in tables:
        raise StoreError(f"{path} is an SQLite database but not a jobledger ledger")


def _postgres_env(url: str) -> dict[str, str]:
    parts = urlparse(url)
    query = parse_qs(parts.query)
    dbname = parts.path.lstrip("/")
    if not dbname or not parts.hostname:
        raise StoreError(f"PostgreSQL URL {url!r} needs a host and a database name")
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": unquote(dbname),
        "POSTGRES_HOST": parts.hostname,
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or os.environ.get("PGUSER", "postgres")),
        "POSTGRES_PASSWORD": unquote(parts.password or os.environ.get("PGPASSWORD", "")),
        "POSTGRES_CONNECT_TIMEOUT": query.get("connect_timeout", ["5"])[0],
        "POSTGRES_LOCK_TIMEOUT": "30",
        # A CLI call needs one or two connections; the library's default pool of 5 per process
        # would let a few dozen concurrent calls exhaust the server's connection limit.
        "POSTGRES_POOL_SIZE": "2",
        "POSTGRES_MAX_OVERFLOW": "2",
    }
    if "schema" in query:
        env["POSTGRES_SCHEMA"] = query["schema"][0]
    return env


_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def ensure_postgres_schema(url: str) -> bool:
    """Connect once, so a refused login is reported with the server's reason, and create the
    URL's `?schema=` if it is missing (the library expects it to exist). Returns whether the
    ledger's tables exist already."""
    schema = parse_qs(urlparse(url).query).get("schema", [""])[0]
    if schema and not _SCHEMA_NAME.fullmatch(schema):
        raise StoreError(f"schema name {schema!r} must be lower case letters, digits and _ (at most 63)")
    import psycopg
    from psycopg import sql

    env = _postgres_env(url)
    try:
        with psycopg.connect(
            dbname=env["POSTGRES_DBNAME"],
            host=env["POSTGRES_HOST"],
            port=int(env["POSTGRES_PORT"]),
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"] or None,
            connect_timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]),
            autocommit=True,
        ) as conn:
            if schema:
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            found = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL",
                (f"{schema or 'public'}.jobledger_events", f"{schema or 'public'}.jobledger_events_chain"),
            ).fetchone()
    except psycopg.Error as err:
        raise StoreError(_postgres_problem(env, err)) from None
    return bool(found and found[0])


def _postgres_problem(env: dict[str, str], err: Exception) -> str:
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return (
        f"cannot use PostgreSQL at {env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}"
        f"/{env['POSTGRES_DBNAME']}: {first}"
    )


def describe_store_failure(db: str, err: Exception) -> str:
    """One line saying why the store at --db could not be opened."""
    if is_postgres_url(db):
        return _postgres_problem(_postgres_env(db), err)
    if isinstance(err.__cause__, ChainBrokenError):  # the ledger opened; the append was refused
        return str(err.__cause__)
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return f"cannot open ledger {db}: {first}"
