"""The one place that opens a store, the ledger service and its views together."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from jobledger.domain.errors import StoreError, ViewsFileNeededError
from jobledger.projections.database import ViewsDatabase
from jobledger.projections.runner import Projector
from jobledger.store.config import is_postgres_url, sqlite_problem, store_identity

from .ledger import JobLedger


def views_path(db: str, views: str | None) -> str:
    """Where the views of the ledger at `db` live: its own SQLite file, or `views` for PostgreSQL."""
    if is_postgres_url(db):
        if not views:
            raise ViewsFileNeededError("with a PostgreSQL store the views need a local SQLite file")
        return views
    return views or db


def open_projector(ledger: JobLedger, views: str | None = None) -> Projector:
    """The projector for a ledger: views in its own SQLite file, or in `views` for PostgreSQL."""
    path = views_path(ledger.db, views)
    try:
        database = ViewsDatabase(path, store_identity=store_identity(ledger.db, path))
    except sqlite3.Error as err:
        raise StoreError(views_problem(path, err)) from err
    except OSError as err:  # a name too long, a loop of links
        raise StoreError(f"cannot use the views in {path}: {err.strerror or err}") from err
    return Projector(ledger.shared_reader(), database)


def views_problem(path: str, err: sqlite3.Error) -> str:
    """One line saying why the views file at `path` cannot be opened or written."""
    first = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return f"cannot use the views in {path}: {sqlite_problem(Path(path), first)}"
