"""Running the CLI in-process and checking what it printed, for the integration tests."""

from __future__ import annotations

import json
from typing import Any

from cli_checks import explain
from click.testing import CliRunner, Result

from jobledger.cli.main import cli
from jobledger.service.ledger import JobLedger


def run(db: str, *args: str) -> Result:
    """`jobledger --db DB ARGS...`, with stdout and stderr kept apart."""
    return CliRunner().invoke(cli, ["--db", db, *args], env={"JOBLEDGER_DB": None, "JOBLEDGER_VIEWS": None})


def ok(db: str, *args: str) -> str:
    """Run a command that must succeed; return its stdout."""
    result = run(db, *args)
    assert result.exit_code == 0, explain(result)
    assert result.stderr == "", explain(result)
    return result.stdout


def submit_args(name: str = "nightly", kind: str = "optimizeImagesJob", payload: str = "") -> list[str]:
    """The arguments of `jobledger submit` for a job of acme's."""
    args = ["submit", "--company", "acme", "--name", name, "--type", kind]
    return [*args, "--payload", payload] if payload else args


def submit(
    db: str, *extra: str, name: str = "nightly", kind: str = "optimizeImagesJob", payload: str = ""
) -> str:
    """Submit a job through the CLI and return the handle it printed."""
    return ok(db, *submit_args(name, kind, payload), *extra).strip()


def show(db: str, handle: str) -> dict[str, Any]:
    """`show HANDLE --format json`, parsed."""
    data: dict[str, Any] = json.loads(ok(db, "show", handle, "--format", "json"))
    return data


def event_count(db: str) -> int:
    """How many events the store at DB holds, read by a fresh ledger."""
    ledger = JobLedger(db, create=False)
    try:
        return ledger.event_count()
    finally:
        ledger.close()
