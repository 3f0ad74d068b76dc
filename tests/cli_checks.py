"""What every CLI test checks of a click result: what it printed, and that a failure is one line."""

from __future__ import annotations

import traceback

from click.testing import Result


def explain(result: Result) -> str:
    """What a CLI result printed, and its traceback if it crashed."""
    crash = ""
    if result.exc_info is not None and not isinstance(result.exception, SystemExit):
        crash = "".join(traceback.format_exception(*result.exc_info))
    return f"exit {result.exit_code}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}\n{crash}"


def assert_one_line_error(result: Result, exit_code: int, *fragments: str) -> str:
    """The command failed with this exit code, no traceback, nothing on stdout, and one
    `Error: ...` line on stderr naming every fragment; returns that line."""
    explained = explain(result)
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
