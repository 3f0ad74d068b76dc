"""The README's walk-through and Python API example run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _block(heading: str, language: str) -> str:
    text = README.read_text()
    section = text.split(f"## {heading}\n", 1)[1]
    match = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert match, f"no {language} block under {heading}"
    return match.group(1)


def test_the_walk_through_runs_and_ends_with_warnings(tmp_path: Path) -> None:
    script = "set -euo pipefail\n" + _block("Walk-through", "sh")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("JOBLEDGER_DB", None)
    result = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "Done, warnings" in result.stdout
    assert '"outcome": "warnings"' in result.stdout
    assert "Traceback" not in result.stderr


def test_the_python_api_example_runs(tmp_path: Path) -> None:
    code = _block("Python API", "python")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "Completed" in result.stdout


def test_the_runner_example_runs_and_a_second_run_finds_its_earlier_submit(tmp_path: Path) -> None:
    code = _block("A runner in Python", "python")

    first = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    again = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )

    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("acme||NightlyUpload_") and first.stdout.endswith(": success\n")
    assert again.returncode == 0, again.stderr
    assert again.stdout.endswith("was submitted by an earlier try: Done\n")
