"""Size limits on what a command may carry (IPS-like), and the field types that declare them.

Lengths are checked by msgspec while a command is validated (domain/validation.py), at no
measurable cost; control characters in names are checked there too. The README lists them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

import msgspec

MAX_NAME = 256  # characters: company, job name, server, log type, email, key, zone, asset names
MAX_HANDLE = 1024  # characters: a run's handle is company||name_time, a schedule's company|name|
MAX_TEXT = 16384  # characters: messages, descriptions, reasons
MAX_ITEMS = 1000  # rows: taskProgressArray, auxArray
MAX_COMMAND_BYTES = 256 * 1024  # a whole command, MessagePack-encoded: in practice, the payload
# Counts and sizes are stored as 64-bit integers (MessagePack, SQLite and PostgreSQL alike).
MAX_COUNT = 2**63 - 1
# Times a command may carry, in UTC. A day inside the calendar at each end, so that a time in any
# zone (offsets are under 24 hours) converts to UTC and back, and renders in any local zone.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)
_EARLIEST_NAIVE, _LATEST_NAIVE = EARLIEST.replace(tzinfo=None), LATEST.replace(tzinfo=None)
TIME_RANGE = "0001-01-02T00:00:00Z to 9999-12-30T23:59:59Z"

Name = Annotated[str, msgspec.Meta(max_length=MAX_NAME)]
Handle = Annotated[str, msgspec.Meta(max_length=MAX_HANDLE)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT)]

_LENGTH = re.compile(r"Expected `(str|array|object)` of length <= (\d+)")
_LENGTH_MIN = re.compile(r"Expected `(str|array|object)` of length >= (\d+)")
_UNITS = {"str": "characters", "array": "items", "object": "entries"}


def outside(moment: datetime) -> bool:
    """Whether a time lies outside EARLIEST..LATEST (a time without a zone is UTC)."""
    try:
        # Aware times compare by their UTC instant without converting, so any offset is safe here.
        return not EARLIEST <= moment <= LATEST
    except TypeError:  # no zone: compared as UTC
        return not _EARLIEST_NAIVE <= moment <= _LATEST_NAIVE


def time_problem(moment: datetime) -> str:
    """What is wrong with a time outside the range."""
    return f"a time out of range ({TIME_RANGE}): {moment.isoformat()}"


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
