"""The one place that opens a store, the ledger service and its views together."""

from __future__ import annotations

from jobledger.domain.errors import ViewsFileNeededError
from jobledger.projections.database import ViewsDatabase
from jobledger.projections.runner import Projector
from jobledger.store.config import is_postgres_url, store_identity

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
    return Projector(
        ledger.shared_reader(), ViewsDatabase(path, store_identity=store_identity(ledger.db, path))
    )
