"""A ledger file with damaged pages: every command says so in one line, naming the file and what to
do, and exits 1; nothing is written."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from cli_checks import assert_one_line_error
from cli_support import ok, run

PAGE = 4096


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A copy of a small demo ledger whose pages after the first are overwritten, and a run's handle."""
    folder = tmp_path_factory.mktemp("damaged")
    good = folder / "good.db"
    ok(str(good), "demo", "--jobs", "40", "--companies", "2", "--end", "2026-11-28T09:00:00Z")
    handle = ok(str(good), "logs", "--limit", "1", "--format", "csv").splitlines()[1].split(",")[0]
    bad = folder / "bad.db"
    shutil.copy(good, bad)
    size = bad.stat().st_size
    with bad.open("r+b") as file:
        for page in range(1, size // PAGE):  # page 1 (the schema) stays, so the file opens
            file.seek(page * PAGE)
            file.write(os.urandom(PAGE))
    return bad, handle


COMMANDS = [
    ["logs"],
    ["active"],
    ["scheduled"],
    ["details", "{h}"],
    ["show", "{h}"],
    ["history", "{h}"],
    ["events"],
    ["export"],
    ["audit", "verify"],
    ["audit", "digest"],
    ["projections", "status"],
    ["projections", "catch-up"],
    ["projections", "rebuild"],
    ["projections", "verify"],
    ["scheduler", "tick"],
    ["start", "{h}", "--server", "ips-9"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_command_on_a_damaged_file_is_one_line_naming_the_damage(
    damaged: tuple[Path, str], command: list[str]
) -> None:
    path, handle = damaged
    before = path.read_bytes()

    result = run(str(path), *(word.format(h=handle) for word in command))

    line = assert_one_line_error(result, 1, str(path), "damaged", "backup")
    assert "Traceback" not in line
    assert path.read_bytes() == before, "nothing was written to the damaged file"
