"""Where a ledger lives: a --db value (SQLite path or PostgreSQL URL) turned into store settings."""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote, urlparse

from eventsourcing.utils import get_topic

from jobledger.domain.errors import DamagedStoreError, NoLedgerError, StoreError

from .codec import MsgspecMapper
from .sqlite_recorder import SQLITE_LOCK_TIMEOUT_SECONDS, FastSQLiteApplicationRecorder

if TYPE_CHECKING:  # psycopg loads only for a PostgreSQL store
    import psycopg

_SQLITE_MAGIC = b"SQLite format 3\x00"
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def is_postgres_url(db: str) -> bool:
    """Whether --db names a PostgreSQL server rather than an SQLite file."""
    return db[:13].lower().startswith(("postgresql://", "postgres://"))


def store_env(db: str, *, create: bool = True) -> dict[str, str]:
    """The eventsourcing environment for a --db value; refuses paths that cannot be a ledger."""
    env = {
        "MAPPER_TOPIC": get_topic(MsgspecMapper),
        "ORIGINATOR_ID_TYPE": "uuid",
        # The library would otherwise read our own settings from os.environ as well.
        "IS_SNAPSHOTTING_ENABLED": "no",
    }
    if is_postgres_url(db):
        from .postgres_recorder import ChainedPostgresApplicationRecorder  # psycopg only when needed

        env.update(postgres_env(db))
        env["APPLICATION_RECORDER_TOPIC"] = get_topic(ChainedPostgresApplicationRecorder)
        return env
    check_sqlite_name(db)
    path = Path(db)
    _check_sqlite_path(path, create=create)
    name = str(path)
    if not create and path.exists() and sqlite_access_problem(path) is not None:
        name = read_only_uri(path)
    env.update(
        {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": name,
            "SQLITE_LOCK_TIMEOUT": str(SQLITE_LOCK_TIMEOUT_SECONDS),
            "APPLICATION_RECORDER_TOPIC": get_topic(FastSQLiteApplicationRecorder),
        }
    )
    return env


def read_only_uri(path: Path) -> str:
    """The URI that reads an SQLite ledger without writing anything beside it.

    Where this process cannot write (a read-only file, folder or mount, a full disk), SQLite could
    not make the -wal and -shm files WAL mode needs, so the file is read as it stands (immutable):
    nobody can be writing it meanwhile. A write is still refused, in one line."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    if not path.exists() or sqlite_access_problem(path) is None:
        return uri
    try:  # with its -wal and -shm files there to read, it opens as it is (SQLite >= 3.22)
        conn = sqlite3.connect(uri, uri=True)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return uri + "&immutable=1"
    return uri


def check_sqlite_name(db: str) -> None:
    """Refuse a --db value that is neither a PostgreSQL URL nor an SQLite file path."""
    scheme = _URL_SCHEME.match(db)
    if scheme:
        raise StoreError(
            f"database URL scheme {scheme.group(1)}:// is not supported; "
            "give an SQLite file path or a postgresql:// URL"
        )
    # The library (and sqlite3 with uri=True) would take these as an in-memory database: each
    # connection would get one of its own, so the views and the writer would not see one store.
    if ":memory:" in db or "mode=memory" in db:
        raise StoreError("an in-memory ledger is not supported; use a file in a temporary folder")
    if db.startswith("file:"):
        raise StoreError(f"SQLite URIs are not supported ({db!r}); give a file path")


def _check_sqlite_path(path: Path, *, create: bool) -> None:
    try:
        _check_sqlite_file(path, create=create)
    except OSError as err:  # a name too long, a loop of links, a folder that cannot be searched
        raise StoreError(f"cannot use database path {path}: {err.strerror or err}") from err


def _check_sqlite_file(path: Path, *, create: bool) -> None:
    if path.is_dir():
        raise StoreError(f"database path {path} is a directory; give a file path")
    if not path.exists():
        if not create:
            raise NoLedgerError(f"no ledger at {path}")
        if not path.parent.is_dir():
            raise StoreError(f"cannot create a ledger at {path}: folder {path.parent} does not exist")
        if not os.access(path.parent, os.W_OK):
            raise StoreError(f"cannot create a ledger at {path}: folder {path.parent} is read-only")
        return
    if not path.is_file():  # a device, a pipe (reading its header would wait forever), a socket
        raise StoreError(f"{path} is not a jobledger database (not a regular file)")
    try:
        with path.open("rb") as f:
            header = f.read(len(_SQLITE_MAGIC))
    except OSError as err:
        raise StoreError(f"cannot read database {path}: {err.strerror}") from err
    if header and header != _SQLITE_MAGIC:
        raise StoreError(f"{path} is not a jobledger database (not an SQLite file)")
    if not header:
        if not create:  # a read must not turn an empty file into a ledger
            raise NoLedgerError(f"no ledger at {path} (the file is empty)")
        return
    try:
        conn = sqlite3.connect(read_only_uri(path), uri=True)
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        finally:
            conn.close()
    except sqlite3.Error as err:
        if is_damage(str(err)):
            raise DamagedStoreError(f"cannot open ledger {path}: {sqlite_problem(path, str(err))}") from err
        if "not a database" in str(err):
            raise StoreError(f"{path} is not a jobledger database: {err}") from err
        # Anything else is the file system's doing, not the file's: say so rather than blame it.
        raise StoreError(f"cannot open ledger {path}: {sqlite_problem(path, str(err))}") from err
    if tables and "stored_events" not in tables:
        raise StoreError(f"{path} is an SQLite database but not a jobledger ledger")
    if not tables and not create:
        raise NoLedgerError(f"no ledger at {path} (an empty SQLite database)")


def sqlite_problem(path: Path, message: str) -> str:
    """What an SQLite error on the ledger (or views) file means, in the user's terms."""
    if is_disk_full(message):
        return f"no space left on the device holding {path}"
    if is_damage(message):
        return f"the file is damaged ({message})"
    if "readonly" in message or "unable to open" in message or "disk I/O error" in message:
        return sqlite_access_problem(path) or message
    return message


def is_disk_full(message: str) -> bool:
    """Whether an SQLite error says the disk (or file system) holding the file is full."""
    return "disk is full" in message  # also "database or disk is full"


def is_damage(message: str) -> bool:
    """Whether an SQLite error says the file's pages are damaged."""
    return "malformed" in message


def sqlite_access_problem(path: Path) -> str | None:
    """Why SQLite cannot write the ledger file or create its -wal and -shm files beside it, if so."""
    # access(2) sees read-only mounts and immutable files, and as root those are the only reasons.
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is read-only"
    if not os.access(path.parent, os.W_OK):
        return f"its folder {path.parent} is read-only (SQLite keeps its -wal and -shm files beside it)"
    try:
        full = os.statvfs(path.parent).f_bavail == 0
    except OSError:
        full = False
    if full:  # SQLite could not create or grow its -wal or -shm file: it says "disk I/O error"
        return f"no space left on the device holding {path}"
    return None


def postgres_env(url: str) -> dict[str, str]:
    """The library's PostgreSQL settings for a URL."""
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


def ensure_postgres_schema(url: str, *, create: bool = True) -> bool:
    """Connect once, so a refused login is reported with the server's reason, and create the
    URL's `?schema=` if it is missing (the library expects it to exist). Returns whether the
    ledger's tables exist already; without `create`, a missing ledger is a NoLedgerError and
    nothing is created."""
    schema = parse_qs(urlparse(url).query).get("schema", [""])[0]
    if schema and not _SCHEMA_NAME.fullmatch(schema):
        raise StoreError(f"schema name {schema!r} must be lower case letters, digits and _ (at most 63)")
    import psycopg
    from psycopg import sql

    env = postgres_env(url)
    try:
        with postgres_connection(url) as conn:
            if schema and create:
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            found = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL",
                (f"{schema or 'public'}.jobledger_events", f"{schema or 'public'}.jobledger_events_chain"),
            ).fetchone()
    except psycopg.Error as err:
        raise StoreError(postgres_problem(env, err)) from err
    if not (found and found[0]) and not create:  # a read must not create the tables
        raise NoLedgerError(f"no ledger at {store_identity(url)}")
    return bool(found and found[0])


def postgres_connection(url: str) -> psycopg.Connection[Any]:
    """An autocommit connection to the URL's database (not a pooled one of the library's);
    StoreError naming the server and what it said, if it refuses."""
    import psycopg

    env = postgres_env(url)
    try:
        return psycopg.connect(
            dbname=env["POSTGRES_DBNAME"],
            host=env["POSTGRES_HOST"],
            port=int(env["POSTGRES_PORT"]),
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"] or None,
            connect_timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]),
            autocommit=True,
        )
    except psycopg.Error as err:
        raise StoreError(postgres_problem(env, err)) from err


def postgres_problem(env: dict[str, str], err: Exception) -> str:
    """One line naming the PostgreSQL server and what it said."""
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return (
        f"cannot use PostgreSQL at {env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}"
        f"/{env['POSTGRES_DBNAME']}: {first}"
    )


def store_identity(db: str, views: str | None = None) -> str:
    """What views were built from, without credentials (kept in the views file to refuse a mix-up)."""
    if not is_postgres_url(db):
        if views is None or Path(views).resolve() == Path(db).resolve():
            return "sqlite:same-file"  # moves with the ledger file
        return f"sqlite:{Path(db).resolve()}"
    parts = urlparse(db)
    schema = parse_qs(parts.query).get("schema", ["public"])[0]
    return f"postgresql://{parts.hostname}:{parts.port or 5432}{parts.path}?schema={schema}"
