"""Parameter types and option decorators shared by the commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from jobledger.domain.limits import MAX_COUNT, TIME_RANGE, outside
from jobledger.service.ledger import DEFAULT_MAX_CLOCK_SKEW

F = TypeVar("F", bound=Callable[..., Any])


class IsoTime(click.ParamType[datetime]):
    """An ISO 8601 time within the ledger's range (domain/limits.py); one without a zone is UTC."""

    name = "ISO8601"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            moment = value
        else:
            try:
                moment = datetime.fromisoformat(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not an ISO 8601 time (e.g. 2026-11-28T13:00:00Z)", param, ctx)
        moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        if outside(moment):
            self.fail(f"{value!r} is out of range: times go from {TIME_RANGE}", param, ctx)
        return moment


class JsonText(click.ParamType[bytes]):
    """JSON given inline, or read from a file with @path (@- reads standard input)."""

    name = "JSON|@FILE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> bytes:
        text = str(value)
        if not text.startswith("@"):
            return text.encode()
        path = text[1:]
        if path == "-":
            return sys.stdin.buffer.read()
        try:
            return Path(path).read_bytes()
        except OSError as err:
            self.fail(f"cannot read {path}: {err.strerror}", param, ctx)


def max_clock_skew() -> timedelta | None:
    """The tolerance for times ahead of the clock: JOBLEDGER_MAX_CLOCK_SKEW seconds, else the ledger's."""
    text = os.environ.get("JOBLEDGER_MAX_CLOCK_SKEW", "").strip()
    if not text:
        return DEFAULT_MAX_CLOCK_SKEW
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < 10**9:  # also refuses nan
        raise click.UsageError(
            f"JOBLEDGER_MAX_CLOCK_SKEW must be a number of seconds (0 or more), got {text!r}"
        )
    return timedelta(seconds=seconds)


ISO_TIME = IsoTime()
JSON_TEXT = JsonText()


MAX_SECONDS = 10**9  # about 31 years: past that, the waits of the threading module overflow


class Seconds(click.FloatRange):
    """A number of seconds from LEAST to MAX_SECONDS (not nan)."""

    def __init__(self, least: float) -> None:
        super().__init__(least, MAX_SECONDS)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if seconds != seconds:  # nan passes every comparison of the range
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        return seconds


def counts(least: int = 0) -> click.IntRange:
    """A count, a size or a position: LEAST up to what a 64-bit integer holds (the store's limit)."""
    return click.IntRange(least, MAX_COUNT)


def at_option(f: F) -> F:
    """--at: the time of the command, as the runner's clock saw it."""
    return click.option(
        "--at",
        type=ISO_TIME,
        default=None,
        help="Time of this command (ISO 8601; default now, UTC).",
    )(f)


def company_option(*, required: bool = False) -> Callable[[F], F]:
    """--company: the owning company; on commands about a handle, a check that it owns it."""
    text = "Company handle." if required else "Only act if the job belongs to this company."
    return click.option("--company", required=required, default=None, help=text)
