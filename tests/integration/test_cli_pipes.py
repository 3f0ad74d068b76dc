"""`jobledger ... | head -1`: when the reader goes away, jobledger stops quietly with exit 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

JOBLEDGER = str(Path(sys.executable).with_name("jobledger"))


@pytest.fixture(scope="module")
def demo_ledger(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A demo ledger whose outputs are far larger than a pipe's buffer (64 KiB on Linux)."""
    path = str(tmp_path_factory.mktemp("pipes") / "demo.db")
    made = subprocess.run(
        [JOBLEDGER, "--db", path, "demo", "--jobs", "150"], capture_output=True, text=True, timeout=120
    )
    assert made.returncode == 0, made.stderr
    return path


@pytest.mark.parametrize(
    "program", [[JOBLEDGER], [sys.executable, "-m", "jobledger.cli"]], ids=["script", "m"]
)
@pytest.mark.parametrize(
    "command",
    [
        ["logs", "--format", "ndjson"],
        ["events"],
        ["events", "--format", "table"],
        ["export"],
    ],
)
def test_a_reader_that_closes_the_pipe_early_ends_jobledger_quietly_with_0(
    demo_ledger: str, program: list[str], command: list[str]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBLEDGER_")}
    child = subprocess.Popen(
        [*program, "--db", demo_ledger, *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert child.stdout is not None and child.stderr is not None
    first = child.stdout.readline()
    child.stdout.close()  # as `head -1` does once it has its line
    with child.stderr:
        stderr = child.stderr.read().decode()
    code = child.wait(timeout=60)

    assert first
    assert code == 0, stderr
    assert stderr == ""
