"""Schedule expressions: the Quartz form IPS uses and the 5-field cron form, evaluated in a zone.

The arithmetic is croniter's. Quartz numbers days of the week 1-7 from Sunday, croniter 0-6, so
the Quartz day-of-week field is shifted before it is handed over.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidValueError
from .limits import LATEST

QUARTZ_FIELDS = ("second", "minute", "hour", "day-of-month", "month", "day-of-week", "year")
CRON_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
# A harmless value per field, used to find which field of a bad expression is at fault.
_NEUTRAL = {
    "second": "0",
    "minute": "0",
    "hour": "0",
    "day-of-month": "*",
    "month": "*",
    "day-of-week": "?",
    "year": "*",
}
_QUARTZ_DAY = re.compile(r"(?<![#/\d])([0-9]+)(?!\d)")


class CronError(InvalidValueError):
    """An execSchedule or timeZone that cannot be evaluated."""


def zone(name: str) -> ZoneInfo:
    """The IANA zone of a schedule."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise CronError(f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin") from err


def _shift_days(field: str) -> str:
    def shift(match: re.Match[str]) -> str:
        day = int(match.group(1))
        if not 1 <= day <= 7:
            raise CronError(f"day-of-week {day} is out of range: Quartz counts 1 (Sunday) to 7 (Saturday)")
        return str(day - 1)

    shifted = _QUARTZ_DAY.sub(shift, field)
    # Quartz writes "the last Friday" as 6L; croniter as L5.
    return re.sub(r"(?<![#/\d])(\d)L", r"L\1", shifted)


def _to_croniter(expression: str) -> tuple[str, bool, tuple[str, ...]]:
    fields = expression.split()
    if len(fields) == 5:
        return " ".join(fields), False, CRON_FIELDS
    if len(fields) in (6, 7):
        fields[5] = _shift_days(fields[5])
        return " ".join(fields), True, QUARTZ_FIELDS[: len(fields)]
    raise CronError(
        f"schedule {expression!r} has {len(fields)} fields; give 5 (min hour dom month dow) or "
        "6-7 (Quartz: sec min hour dom month dow [year])"
    )


def _valid(expression: str, seconds_first: bool) -> bool:
    try:
        from croniter import croniter  # here, not at the top: reads that fire nothing never load it

        croniter(expression, datetime(2026, 1, 1, tzinfo=UTC), second_at_beginning=seconds_first)
    except Exception:  # croniter raises several unrelated types for bad input
        return False
    return True


def validate(expression: str) -> str:
    """The expression as given, if croniter can evaluate it; else a CronError naming the field."""
    converted, seconds_first, names = _to_croniter(expression)
    if _valid(converted, seconds_first):
        return expression
    fields = converted.split()
    for index, name in enumerate(names):
        probe = [_NEUTRAL[n] if n != "day-of-week" or seconds_first else "*" for n in names]
        if name == "day-of-week" and fields[index] != "?":
            probe[names.index("day-of-month")] = "?" if seconds_first else "*"
        probe[index] = fields[index]
        if not _valid(" ".join(probe), seconds_first):
            raise CronError(
                f"schedule {expression!r}: the {name} field {expression.split()[index]!r} is invalid"
            )
    raise CronError(f"schedule {expression!r} is invalid")


def next_fire_time(
    expression: str, zone_name: str, after: datetime, previous: datetime | None = None
) -> datetime | None:
    """The first fire time strictly after `after`, in UTC; None if the expression never fires again
    (before limits.LATEST).

    When clocks go back, a wall-clock time happens twice; a schedule fires at the first of the
    two only, so a time whose wall clock equals the `previous` fire time's is skipped.
    """
    converted, seconds_first, _ = _to_croniter(expression)
    tz = zone(zone_name)
    try:
        from croniter import croniter

        it = croniter(converted, after.astimezone(tz), second_at_beginning=seconds_first)
        fire: datetime = it.get_next(datetime)
        if previous is not None:
            wall = previous.astimezone(tz).replace(tzinfo=None)
            while fire.astimezone(tz).replace(tzinfo=None) == wall:
                fire = it.get_next(datetime)
        fire = fire.astimezone(UTC)
    except Exception as err:  # croniter signals "no more times" with several types
        if "failed to find" in str(err).lower() or isinstance(err, (StopIteration, OverflowError)):
            return None
        raise CronError(f"schedule {expression!r} cannot be evaluated: {err}") from err
    # Past the last time a command may carry, the calendar has run out: no time could render it.
    return fire if fire <= LATEST else None
