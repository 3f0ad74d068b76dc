"""Parameter types and option decorators shared by the commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from jobledger.service.ledger import DEFAULT_MAX_CLOCK_SKEW

F = TypeVar("F", bound=Callable[..., Any])


class IsoTime(click.ParamType[datetime]):
    """An ISO 8601 time; one without a zone is taken as UTC."""

    name = "ISO8601"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            moment = value
        else:
            try:
                moment = datetime.fromisoformat(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not an ISO 8601 time (e.g. 2026-11-28T13:00:00Z)", param, ctx)
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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
