"""Times as tables show them: compact, in the local zone, with the date whenever it is not today.

JSON, NDJSON and CSV keep ISO 8601 with the zone (UTC, `...Z`); only tables use these forms.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from jobledger.projections.active_jobs import STALLED_AFTER, stalled
from jobledger.projections.rows import as_time

__all__ = ["STALLED_AFTER", "as_time", "stalled"]


def now() -> datetime:
    """The wall clock, in UTC (tests replace it)."""
    return datetime.now(UTC)


def zone() -> tzinfo | None:
    """The zone tables show times in: None, the process's local zone (TZ), as `date` shows."""
    return None


def when(value: Any) -> str:
    """`13:05:07` today (local time), `2026-11-28 13:05:07` on any other day; empty for no time."""
    moment = as_time(value)
    if moment is None:
        return ""
    try:
        local = moment.astimezone(zone())
    except OverflowError:  # within a day of either end of the calendar: shown as stored, in UTC
        return moment.astimezone(UTC).isoformat(" ", "seconds")[:19] + "Z"
    if local.date() == now().astimezone(zone()).date():
        return local.strftime("%H:%M:%S")
    return local.isoformat(" ", "seconds")[:19]  # strftime would write year 1 as "1"


def age(value: Any, reference: datetime) -> str:
    """How long before REFERENCE a time was, as kubectl shows ages: 42s, 3m, 2h5m, 3d4h."""
    moment = as_time(value)
    if moment is None:
        return ""
    seconds = max(int((reference - moment).total_seconds()), 0)
    if seconds < 60:
        return f"{seconds}s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if minutes < 60:
        return f"{minutes}m"
    if hours < 24:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    rest = hours % 24
    return f"{days}d{rest}h" if rest else f"{days}d"


def ago(value: Any, reference: datetime) -> str:
    """`3m ago`, or empty for no time."""
    text = age(value, reference)
    return f"{text} ago" if text else ""
