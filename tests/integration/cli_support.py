"""Running the CLI in-process and checking what it printed, for the integration tests."""

from __future__ import annotations

import json
import traceback
from typing import Any

from click.testing import CliRunner, Result

from jobledger.cli.main import cli
from jobledger.domain.ledger import JobLedger


def run(db: str, *args: str) -> Result:
    """`jobledger --db DB ARGS...`, with stdout and stderr kept apart."""
    return CliRunner().invoke(cli, ["--db", db, *args], env={"JOBLEDGER_DB": None, "JOBLEDGER_VIEWS": None})


def _explain(result: Result) -> str:
    crash = ""
    if result.exc_info is not None and not isinstance(result.exception, SystemExit):
        crash = "".join(traceback.format_exception(*result.exc_info))
    return f"exit {result.exit_code}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}\n{crash}"


def ok(db: str, *args: str) -> str:
    """Run a command that must succeed; return its stdout."""
    result = run(db, *args)
    assert result.exit_code == 0, _explain(result)
    assert result.stderr == "", _explain(result)
    return result.stdout


def submit(
    db: str, *extra: str, name: str = "nightly", kind: str = "optimizeImagesJob", payload: str = ""
) -> str:
    """Submit a job through the CLI and return the handle it printed."""
    args = ["submit", "--company", "acme", "--name", name, "--type", kind]
    if payload:
        args += ["--payload", payload]
    return ok(db, *args, *extra).strip()


def show(db: str, handle: str) -> dict[str, Any]:
    """`show HANDLE --format json`, parsed."""
    data: dict[str, Any] = json.loads(ok(db, "show", handle, "--format", "json"))
    return data


def assert_one_line_error(result: Result, exit_code: int, *fragments: str) -> str:
    """The command failed with this exit code, no traceback, and one `Error: ...` line naming the problem."""
    explained = _explain(result)
    assert result.exit_code == exit_code, explained
    assert isinstance(result.exception, SystemExit), f"the command crashed instead of reporting:\n{explained}"
    assert "Traceback" not in result.output, explained
    assert result.stdout == "", explained
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"stderr is not one line:\n{explained}"
    assert lines[0].startswith("Error: "), explained
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} is not named:\n{explained}"
    return lines[0]


def event_count(db: str) -> int:
    """How many events the store at DB holds, read by a fresh ledger."""
    ledger = JobLedger(db, create=False)
    try:
        return ledger.event_count()
    finally:
        ledger.close()
