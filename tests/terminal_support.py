"""Taking the CLI's terminal path under CliRunner (whose output is never a terminal), and stopping
the clock that tables measure ages from."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobledger.cli import terminal, timefmt


def on_a_terminal(monkeypatch: pytest.MonkeyPatch, columns: int = 80) -> None:
    """Output goes to a terminal COLUMNS wide, without colour unless the test asks for it."""
    monkeypatch.setattr(terminal, "stdout_is_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setenv("NO_COLOR", "1")


def clock_at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    """The wall clock tables read (for "today" and for ages) stands at MOMENT, in UTC."""
    monkeypatch.setattr(timefmt, "now", lambda: moment)
    monkeypatch.setattr(timefmt, "zone", lambda: UTC)
