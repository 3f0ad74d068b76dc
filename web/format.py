"""Times and durations as the dashboard shows them: UTC, compact, the date unless today."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jobledger.projections.rows import as_time

moment = as_time  # a datetime (with a zone) from a datetime or ISO 8601 text; None for nothing


def when(value: Any, now: datetime | None = None) -> str:
    """`13:05:07` today, `2026-11-28 13:05` another day (UTC); empty for no time."""
    found = moment(value)
    if found is None:
        return ""
    found = found.astimezone(UTC)
    today = (now or datetime.now(UTC)).date()
    return found.strftime("%H:%M:%S") if found.date() == today else found.strftime("%Y-%m-%d %H:%M")


def iso(value: Any) -> str:
    found = moment(value)
    return found.astimezone(UTC).isoformat().replace("+00:00", "Z") if found else ""


def span(delta: timedelta) -> str:
    """`45s`, `12m`, `3h5m`, `2d4h`: kubectl-like."""
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return ""
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600}h"


def local_path(value: str | None) -> str:
    """`value` if it is a path of this site, else "/": a redirect or a link never leads elsewhere.

    Browsers read a backslash as a slash and drop tabs and newlines from a URL, so `/\\evil.com`
    and `/<tab>/evil.com` are `//evil.com` (another site) to them; and a control character may not
    be in a header (a Location) at all."""
    if not value or value[0] != "/" or value[1:2] in ("/", "\\"):
        return "/"
    if any(char < " " or char == "\x7f" for char in value):
        return "/"
    return value


def ago(value: Any, now: datetime) -> str:
    found = moment(value)
    return f"{span(now - found)} ago" if found else ""


def in_zone(value: Any, zone: str) -> str:
    """A time in an IANA zone, with the zone's abbreviation."""
    found = moment(value)
    if found is None:
        return ""
    try:
        local = found.astimezone(ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        return iso(found)
    return local.strftime("%Y-%m-%d %H:%M %Z")


SUMMARY_LENGTH = 160


def summary(fields: dict[str, Any]) -> str:
    """An event's fields on one line (`key=value`, the empty ones left out), cut to fit a cell."""
    parts = []
    for key, value in fields.items():
        if value is None or value is False or value in ("", [], {}):
            continue
        shown = value if isinstance(value, str | int | float) else _compact(value)
        parts.append(f"{key}={shown}")
    text = " ".join(parts)
    return text if len(text) <= SUMMARY_LENGTH else text[: SUMMARY_LENGTH - 1] + "…"


def _compact(value: Any) -> str:
    if isinstance(value, dict):
        if len(value) == 1:  # a payload under its kind: the kind says enough
            return str(next(iter(value)))
        return "{…}"
    if isinstance(value, list):
        return f"[{len(value)}]"
    return str(value)
