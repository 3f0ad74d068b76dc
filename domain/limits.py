"""Size limits on what a command may carry (IPS-like), and the field types that declare them.

Lengths are checked by msgspec while a command is validated (domain/validation.py), at no
measurable cost; control characters in names are checked there too. The README lists them.
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec

MAX_NAME = 256  # characters: company, job name, server, log type, email, key, zone, asset names
MAX_HANDLE = 1024  # characters: a run's handle is company||name_time, a schedule's company|name|
MAX_TEXT = 16384  # characters: messages, descriptions, reasons
MAX_ITEMS = 1000  # rows: taskProgressArray, auxArray
MAX_COMMAND_BYTES = 256 * 1024  # a whole command, MessagePack-encoded: in practice, the payload

Name = Annotated[str, msgspec.Meta(max_length=MAX_NAME)]
Handle = Annotated[str, msgspec.Meta(max_length=MAX_HANDLE)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT)]

_LENGTH = re.compile(r"Expected `(str|array|object)` of length <= (\d+)")
_LENGTH_MIN = re.compile(r"Expected `(str|array|object)` of length >= (\d+)")
_UNITS = {"str": "characters", "array": "items", "object": "entries"}


def explain(err: msgspec.ValidationError) -> tuple[str, str]:
    """A msgspec validation error as (argument path, problem); `$.tasks[0].x` becomes `tasks[0].x`."""
    text, _, path = str(err).partition(" - at `")
    path = path.rstrip("`").removeprefix("$").removeprefix(".")
    if match := _LENGTH.fullmatch(text):
        problem = f"longer than the limit of {int(match[2]):,} {_UNITS[match[1]]}"
    elif match := _LENGTH_MIN.fullmatch(text):
        least = int(match[2])
        problem = "must not be empty" if least == 1 else f"needs at least {least} {_UNITS[match[1]]}"
    elif text.startswith("Invalid RFC3339"):
        problem = "expected an ISO 8601 time (for example 2026-11-28T13:00:00Z)"
    else:
        problem = text.replace("`", "")
        problem = problem[:1].lower() + problem[1:]
    return path, problem
