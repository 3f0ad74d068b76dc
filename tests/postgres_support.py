"""The PostgreSQL leg of the tests: whether it runs, store URLs in schemas of their own, clean-up."""

from __future__ import annotations

import os
from uuid import uuid4

import psycopg
from psycopg import sql

POSTGRES_ENV = "JOBLEDGER_TEST_POSTGRES"
SKIP_REASON = f"{POSTGRES_ENV} is not set; PostgreSQL leg skipped"


def postgres_dsn() -> str | None:
    """The PostgreSQL server the tests may use, or None when the PostgreSQL leg is off."""
    return os.environ.get(POSTGRES_ENV) or None


def new_schema() -> str:
    """A fresh schema name (JobLedger creates the schema on first open)."""
    return f"t_{uuid4().hex}"


def store_url(dsn: str, schema: str) -> str:
    """The --db value of a store in `schema` on the server at `dsn`."""
    separator = "&" if "?" in dsn else "?"
    return f"{dsn}{separator}schema={schema}"


def drop_schema(dsn: str, schema: str) -> None:
    """Drop a PostgreSQL test schema and everything in it."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
