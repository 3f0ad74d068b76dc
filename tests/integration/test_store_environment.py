"""The process environment cannot change where or how the ledger stores its events (issue 11, A4/F2).

eventsourcing merges os.environ into its settings and reads `JOBLEDGER_`-prefixed keys first; the
ledger builds its settings from --db alone, so each key below, set to something hostile, changes
nothing: the events land in the --db store, the chain verifies and the views verify."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest
from cli_checks import explain
from click.testing import CliRunner
from samples import OPTIMIZE

from jobledger.cli.main import cli
from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import JobLedger
from jobledger.store.config import is_postgres_url

_KEY = base64.b64encode(b"k" * 16).decode()

# Each set of keys is read by the library (eventsourcing 9.5: application.py, persistence.py,
# sqlite.py, postgres.py); the prefixed twin is read before the plain key.
HOSTILE: dict[str, dict[str, str]] = {
    "db-functions": {"POSTGRES_ENABLE_DB_FUNCTIONS": "y"},
    "db-functions-prefixed": {"JOBLEDGER_POSTGRES_ENABLE_DB_FUNCTIONS": "y"},
    "dbname": {"POSTGRES_DBNAME": "elsewhere"},
    "dbname-prefixed": {"JOBLEDGER_POSTGRES_DBNAME": "elsewhere"},
    "cipher": {"CIPHER_TOPIC": "eventsourcing.cipher:AESCipher", "CIPHER_KEY": _KEY},
    "cipher-prefixed": {
        "JOBLEDGER_CIPHER_TOPIC": "eventsourcing.cipher:AESCipher",
        "JOBLEDGER_CIPHER_KEY": _KEY,
    },
    "compressor": {"COMPRESSOR_TOPIC": "zlib", "JOBLEDGER_COMPRESSOR_TOPIC": "zlib"},
    "snapshotting": {"IS_SNAPSHOTTING_ENABLED": "y", "JOBLEDGER_IS_SNAPSHOTTING_ENABLED": "y"},
    "persistence-module": {"PERSISTENCE_MODULE": "eventsourcing.popo", "JOBLEDGER_PERSISTENCE_MODULE": "x"},
    "sqlite-dbname": {"SQLITE_DBNAME": "{elsewhere}", "JOBLEDGER_SQLITE_DBNAME": "{elsewhere}"},
    "mapper": {"MAPPER_TOPIC": "eventsourcing.persistence:Mapper", "JOBLEDGER_MAPPER_TOPIC": "x:y"},
    "transcoder": {"JOBLEDGER_TRANSCODER_TOPIC": "eventsourcing.persistence:JSONTranscoder"},
    "recorder": {"JOBLEDGER_APPLICATION_RECORDER_TOPIC": "eventsourcing.popo:POPOApplicationRecorder"},
    "schema": {"POSTGRES_SCHEMA": "elsewhere", "JOBLEDGER_POSTGRES_SCHEMA": "elsewhere"},
    "create-table": {"CREATE_TABLE": "no", "JOBLEDGER_CREATE_TABLE": "no"},
    "server": {
        "JOBLEDGER_POSTGRES_HOST": "nowhere.invalid",
        "JOBLEDGER_POSTGRES_PORT": "1",
        "JOBLEDGER_POSTGRES_USER": "nobody",
        "JOBLEDGER_POSTGRES_PASSWORD": "wrong",
    },
    "pool-and-timeouts": {
        f"JOBLEDGER_POSTGRES_{name}": "not-a-number"
        for name in (
            "POOL_SIZE",
            "MAX_OVERFLOW",
            "MAX_WAITING",
            "LOCK_TIMEOUT",
            "CONNECT_TIMEOUT",
            "CONN_MAX_AGE",
            "PRE_PING",
            "IDLE_IN_TRANSACTION_SESSION_TIMEOUT",
        )
    }
    | {"JOBLEDGER_SQLITE_LOCK_TIMEOUT": "not-a-number"},
    # libpq's own variables: the URL's host, port and database are passed explicitly, so these
    # cannot redirect the store, and every table name is qualified by its schema.
    "libpq": {
        "PGHOST": "nowhere.invalid",
        "PGPORT": "1",
        "PGDATABASE": "elsewhere",
        "PGOPTIONS": "-c search_path=elsewhere",
    },
    "ids-and-cache": {
        "JOBLEDGER_ORIGINATOR_ID_TYPE": "text",
        "JOBLEDGER_AGGREGATE_CACHE_MAXSIZE": "not-a-number",
        "JOBLEDGER_SINGLE_ROW_TRACKING": "maybe",
    },
}


def _invoke(db: str, views: str, *args: str) -> str:
    """A CLI command that must succeed, under whatever environment the test set."""
    options = ["--db", db, "--views", views] if is_postgres_url(db) else ["--db", db]
    result = CliRunner().invoke(cli, [*options, *args])
    assert result.exit_code == 0, explain(result)
    return result.stdout


def _stored_rows(db: str) -> int:
    """How many events the --db store holds, counted without the library."""
    if not is_postgres_url(db):
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT count(*) FROM stored_events").fetchone()[0])
    schema = parse_qs(urlparse(db).query)["schema"][0]
    with psycopg.connect(db.split("?")[0]) as conn:
        row = conn.execute(f'SELECT count(*) FROM "{schema}".jobledger_events').fetchone()
        assert row is not None
        return int(row[0])


@pytest.mark.parametrize("hostile", list(HOSTILE.values()), ids=list(HOSTILE))
def test_no_library_setting_in_the_environment_changes_where_or_how_events_are_stored(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hostile: dict[str, str]
) -> None:
    elsewhere = tmp_path / "elsewhere.db"
    for key, value in hostile.items():
        monkeypatch.setenv(key, value.format(elsewhere=elsewhere))
    views = str(tmp_path / "views.db")
    payload = '{"emailSetting": "Error"}'
    submit = ["submit", "--company", "acme", "--name", "n", "--type", "optimizeImagesJob"]
    submit += ["--payload", payload]
    handle = _invoke(db, views, *submit)
    _invoke(db, views, "start", handle.strip(), "--server", "s1")
    ledger = JobLedger(db)
    try:
        other = ledger.submit("acme", "m", decode_payload("optimizeImagesJob", OPTIMIZE))
        ledger.start(other, "s2")
        ledger.complete(other)
    finally:
        ledger.close()
    assert "acme" in _invoke(db, views, "logs", "--format", "json")
    _invoke(db, views, "audit", "verify")
    _invoke(db, views, "projections", "verify")
    assert _stored_rows(db) == 5
    assert not elsewhere.exists()
