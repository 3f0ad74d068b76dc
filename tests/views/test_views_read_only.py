"""Read commands on a ledger whose file this process may not write: the views are copied into memory
and caught up there, with one line on stderr saying so; the file is left as it was.

Running as root, a file's mode does not stop SQLite from writing it, so the test makes the file
unwritable the way the views database asks: os.access(path, W_OK) answers False for it."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from contextlib import closing

import pytest
from cli_checks import assert_one_line_error
from views_support import OPTIMIZE, at, invoke, seed_catalogue

from jobledger.projections import runner, writer
from jobledger.service.ledger import JobLedger

READ_ONLY = "the views are read-only; answering from an in-memory catch-up\n"


def unwritable(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """Make `path` a file this process may not write, as far as os.access tells."""
    real: Callable[..., bool] = os.access

    def access(target: object, mode: int, *args: object, **kwargs: object) -> bool:
        if mode & os.W_OK and os.fspath(target) == path:  # type: ignore[call-overload]
            return False
        return real(target, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)


def file_state(path: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The file's view positions and its job-log rows."""
    with closing(sqlite3.connect(path)) as conn:
        return (
            sorted(conn.execute("SELECT * FROM view_positions")),
            sorted(conn.execute("SELECT * FROM job_logs"), key=repr),
        )


@pytest.mark.parametrize("caught_up_before", [True, False], ids=["views-behind", "views-never-folded"])
def test_read_commands_answer_from_an_in_memory_catch_up(
    ledger_file: str, job_ledger: JobLedger, monkeypatch: pytest.MonkeyPatch, caught_up_before: bool
) -> None:
    catalogue = seed_catalogue(job_ledger)
    if caught_up_before:
        assert invoke("--db", ledger_file, "logs").exit_code == 0
    later = job_ledger.submit("c6", "later", OPTIMIZE, at=at(900))
    before = file_state(ledger_file) if caught_up_before else None
    unwritable(monkeypatch, ledger_file)

    logs = invoke("--db", ledger_file, "logs", "--format", "json")
    status = invoke("--db", ledger_file, "projections", "status", "--format", "json")

    assert logs.exit_code == 0, logs.stderr
    assert logs.stderr == READ_ONLY
    assert {row["jobHandle"] for row in json.loads(logs.stdout)} == {*catalogue.all, later}
    assert status.exit_code == 0, status.stderr
    assert status.stderr == "the views are read-only; showing them as stored\n"
    head = job_ledger.head_position()
    folded = dict(file_state(ledger_file)[0]).get("job_logs", 0) if caught_up_before else 0
    assert folded < head
    assert {(row["position"], row["lag"]) for row in json.loads(status.stdout)} == {(folded, head - folded)}
    if before is not None:
        assert file_state(ledger_file) == before  # nothing was written to the file


@pytest.mark.parametrize(
    "command", [("catch-up",), ("rebuild",), ("run", "--interval", "0.01")], ids=" ".join
)
def test_commands_that_change_the_views_refuse_a_read_only_file(
    ledger_file: str, job_ledger: JobLedger, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    seed_catalogue(job_ledger)
    unwritable(monkeypatch, ledger_file)

    result = invoke("--db", ledger_file, "projections", *command)

    assert_one_line_error(result, 1, f"the views database {ledger_file} is read-only")


def test_a_read_only_file_far_behind_is_caught_up_in_memory_on_the_bulk_path(
    ledger_file: str, job_ledger: JobLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalogue = seed_catalogue(job_ledger)
    before = file_state(ledger_file)
    monkeypatch.setattr(runner, "BULK_CATCH_UP_AT", 1)
    monkeypatch.setattr(writer, "PROCESS_AT", 1)  # a writer process could only reach the file
    unwritable(monkeypatch, ledger_file)

    logs = invoke("--db", ledger_file, "logs", "--format", "json")

    assert logs.exit_code == 0, logs.stderr
    assert {row["jobHandle"] for row in json.loads(logs.stdout)} == set(catalogue.all)
    assert file_state(ledger_file) == before
