"""Who reads the output, a person at a terminal or a pipe or file, and what that changes.

On a terminal tables fit the screen (free text is cut, never handles), states are coloured and
lists end with a row count; anywhere else everything is printed whole and plain. The one
decision is `stdout_is_terminal`, so tests can take either path.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

import click

WIDE = "jobledger.wide"
NO_COLOUR = "jobledger.no_color"

# Colours of the states and outcomes people scan for; anything else is printed plain.
COLOURS: dict[str, dict[str, Any]] = {
    "New": {"fg": "cyan"},
    "Running": {"fg": "blue", "bold": True},
    "Stopping": {"fg": "yellow"},
    "Done": {},
    "success": {"fg": "green"},
    "warnings": {"fg": "yellow"},
    "errors": {"fg": "red"},
    "fatal": {"fg": "red", "bold": True},
    "stopped": {"fg": "magenta"},
    "stalled": {"fg": "red", "bold": True},
    "deleted": {"dim": True},
    "Normal": {"fg": "green"},
    "Paused": {"fg": "yellow"},
}


def stdout_is_terminal() -> bool:
    """Whether standard output is a terminal (not a pipe or a file)."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def _meta() -> dict[str, Any]:
    ctx = click.get_current_context(silent=True)
    return ctx.meta if ctx is not None else {}


def shaped() -> bool:
    """Whether tables are shaped for a person: a terminal, and no --wide."""
    return stdout_is_terminal() and not _meta().get(WIDE)


def width() -> int:
    """The terminal's width in columns (COLUMNS wins, as for every curses program)."""
    return shutil.get_terminal_size((80, 24)).columns


def colour_on() -> bool:
    """Colour only on a terminal, unless NO_COLOR is set (no-color.org) or --no-color given."""
    return stdout_is_terminal() and not os.environ.get("NO_COLOR") and not _meta().get(NO_COLOUR)


def paint(text: str, word: str) -> str:
    """TEXT coloured for WORD (a state or outcome it shows), when colour is on."""
    style = COLOURS.get(word)
    if not style or not colour_on():
        return text
    return click.style(text, **style)


def _store(key: str) -> Any:
    def callback(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            ctx.meta[key] = True

    return callback


def wide_option(f: Any) -> Any:
    """--wide: every column whole, even on a terminal (kubectl -o wide)."""
    return click.option(
        "--wide",
        is_flag=True,
        expose_value=False,
        callback=_store(WIDE),
        help="Show every column, nothing shortened, even on a terminal.",
    )(f)


def no_colour_option(f: Any) -> Any:
    """--no-color: plain output on a terminal too (as NO_COLOR does)."""
    return click.option(
        "--no-color",
        is_flag=True,
        expose_value=False,
        callback=_store(NO_COLOUR),
        help="No colour, even on a terminal (as does NO_COLOR).",
    )(f)
