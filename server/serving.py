"""Running the server: one per ledger (a lock), uvicorn on the command path, a clean stop.

uvicorn handles SIGTERM and SIGINT: it stops accepting connections and lets the requests under
way finish; the app's shutdown then answers every command already queued before the process
exits 0.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jobledger.domain.errors import LedgerError
from jobledger.service.ledger import JobLedger
from jobledger.store.config import is_postgres_url, postgres_connection, postgres_env, store_identity

from .app import LedgerApp


class AlreadyServedError(LedgerError):
    """Another `jobledger serve` holds this ledger."""


@contextmanager
def serve_lock(db: str) -> Iterator[None]:
    """Hold the ledger's serve lock: a file beside it, or on PostgreSQL an advisory lock of the
    database itself (any spelling of the URL, from any machine, meets the same lock)."""
    if is_postgres_url(db):
        with _postgres_serve_lock(db):
            yield
        return
    # The file's real path: a symlink or another spelling of the same ledger finds the same lock.
    path = Path(f"{os.path.realpath(_file_of(db))}.serve-lock")
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 64, 0).decode(errors="replace").strip() or "another process"
            raise AlreadyServedError(
                f"ledger {db} is already served (by process {holder}); one server per ledger"
            ) from None
        os.ftruncate(handle, 0)
        os.pwrite(handle, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(handle)


@contextmanager
def _postgres_serve_lock(db: str) -> Iterator[None]:
    """An advisory lock on the ledger's database and schema, held by a connection of its own for
    as long as the server runs (PostgreSQL frees it if the server dies)."""
    schema = postgres_env(db).get("POSTGRES_SCHEMA", "public")
    conn = postgres_connection(db)
    try:
        row = conn.execute(
            "SELECT pg_try_advisory_lock(hashtextextended("
            "'jobledger serve ' || current_database() || '.' || %s, 0))",
            (schema,),
        ).fetchone()
        if not (row and row[0]):
            raise AlreadyServedError(
                f"ledger {store_identity(db)} is already served (another server holds its lock in"
                " the database); one server per ledger"
            )
        yield
    finally:
        conn.close()


def _file_of(db: str) -> str:
    """The file an SQLite --db names (a `file:` URI's path without its query)."""
    return db[len("file:") :].split("?", 1)[0] if db.startswith("file:") else db


class CannotListenError(LedgerError):
    """The address to serve on is taken, or not this machine's."""


def listening(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (port 0: a free one), before anything says it is served."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)  # (uvicorn's backlog): callers wait in it until the app has started
    except OSError as err:
        sock.close()
        raise CannotListenError(f"cannot listen on {url_of(host, port)}: {err.strerror or err}") from None
    return sock


def url_of(host: str, port: int) -> str:
    """The http:// address of host:port (an IPv6 address in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(
    ledger: JobLedger,
    views: str | None,
    sock: socket.socket,
    host: str,
    *,
    auth: bool = True,
    log_level: str = "warning",
    wrap: Callable[[LedgerApp], Any] | None = None,
) -> None:
    """Serve the ledger until SIGTERM or SIGINT (`wrap` puts pages around the API: the dashboard)."""
    import uvicorn

    from .direct import serve_directly
    from .uvicorn_server import StreamsFirst

    # The group writer's thread and the event loop share the GIL: a short switch interval lets
    # the loop answer a group's requests without waiting out the writer's time slice.
    sys.setswitchinterval(0.0005)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = LedgerApp(ledger, views, auth=auth)
    port = sock.getsockname()[1]  # (the one chosen, for --port 0)
    config = uvicorn.Config(
        wrap(app) if wrap is not None else app,
        host=host,
        port=port,
        loop="uvloop",
        http=serve_directly(app),
        proxy_headers=False,  # no proxy's headers are read: the caller is known by its token
        lifespan="on",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=30,
    )
    server = StreamsFirst(config, app)
    # uvicorn stops gracefully on these, then raises the signal again with the handlers it found:
    # these, so a clean stop exits 0 (the default handlers would end the process by the signal).
    # One that comes before uvicorn has taken the signals is noted, and the server stops as soon
    # as it has started (raising SystemExit from here was swallowed at some points of the start).
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, lambda signum, frame: setattr(server, "stop_asked", True))
    where = "the dashboard at /, API docs at /v1/docs" if wrap is not None else "API docs at /v1/docs"
    print(f"jobledger: serving {ledger.db} on {url_of(host, port)} ({where})", file=sys.stderr)
    server.run(sockets=[sock])
