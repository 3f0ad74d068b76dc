"""jobledger views: folds of the event stream into SQLite tables, and the queries on them."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

from jobledger.domain.errors import StoreError
from jobledger.domain.ledger import JobLedger
from jobledger.domain.persistence import is_postgres_url
from jobledger.projections.database import ViewsDatabase
from jobledger.projections.runner import Projector


def store_identity(db: str, views: str | None = None) -> str:
    """What the views were built from, without credentials."""
    if not is_postgres_url(db):
        if views is None or Path(views).resolve() == Path(db).resolve():
            return "sqlite:same-file"  # moves with the ledger file
        return f"sqlite:{Path(db).resolve()}"
    parts = urlparse(db)
    schema = parse_qs(parts.query).get("schema", ["public"])[0]
    return f"postgresql://{parts.hostname}:{parts.port or 5432}{parts.path}?schema={schema}"


def open_projector(ledger: JobLedger, views: str | None = None) -> Projector:
    """The projector for a ledger: views in its own SQLite file, or in `views` for PostgreSQL."""
    if is_postgres_url(ledger.db):
        if not views:
            raise StoreError(
                "with a PostgreSQL store the views need a local SQLite file: give --views FILE "
                "or set JOBLEDGER_VIEWS"
            )
        path = views
    else:
        path = views or ledger.db
    return Projector(ledger, ViewsDatabase(path, store_identity=store_identity(ledger.db, path)))
