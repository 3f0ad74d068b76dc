"""Helpers of the schedule tests: payloads, the CLI in-process, and fire times computed without croniter.

The expected fire times here come from a plain minute-by-minute scan of wall clocks in the
schedule's zone, so the tests check croniter's arithmetic (and our Quartz translation) against an
independent reading of the expression rather than against itself.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cli_checks import explain
from click.testing import CliRunner, Result

from jobledger.cli.main import cli
from jobledger.domain.payloads import AnyPayload, decode_payload

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # a Monday, far from any DST change

OPTIMIZE_JSON = '{"emailSetting": "All"}'
PUBLISH_JSON = '{"emailSetting": "All", "publishType": "Full"}'


def optimize() -> AnyPayload:
    """The smallest optimizeImagesJob payload."""
    return decode_payload("optimizeImagesJob", OPTIMIZE_JSON.encode())


def upload(**post: Any) -> AnyPayload:
    """An uploadDirectoryJob payload, with any post-job fields given."""
    fields: dict[str, Any] = {
        "serverDir": "incoming/",
        "overwrite": True,
        "readyForPublish": True,
        "includeSubfolders": False,
        "createMask": False,
        "processMetadataFiles": False,
        "emailSetting": "None",
        **post,
    }
    return decode_payload("uploadDirectoryJob", json.dumps(fields).encode())


# --- the CLI in-process --------------------------------------------------------------------------

CLEAN_ENV: dict[str, str | None] = {"JOBLEDGER_DB": None, "JOBLEDGER_VIEWS": None, "COLUMNS": "200"}


def run(db: str, *args: str) -> Result:
    """`jobledger --db DB ARGS...` in-process, stdout and stderr kept apart."""
    return CliRunner().invoke(cli, ["--db", db, *args], env=CLEAN_ENV)


def ok(db: str, *args: str) -> str:
    """Run a command that must succeed quietly on stderr; return its stdout."""
    result = run(db, *args)
    assert result.exit_code == 0, explain(result)
    assert result.stderr == "", explain(result)
    return result.stdout


def fails(db: str, exit_code: int, *args: str) -> str:
    """Run a command that must fail with one `Error: ...` line on stderr; return that line."""
    result = run(db, *args)
    assert result.exit_code == exit_code, explain(result)
    assert isinstance(result.exception, SystemExit), explain(result)
    assert result.stdout == "", explain(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), explain(result)
    return lines[0]


def as_json(db: str, *args: str) -> list[dict[str, Any]]:
    """A read command's `--format json` output, parsed."""
    data: list[dict[str, Any]] = json.loads(ok(db, *args, "--format", "json"))
    return data


def jobledger_command() -> list[str]:
    """How to start the `jobledger` console script of this virtualenv in a subprocess."""
    script = Path(sys.executable).with_name("jobledger")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from jobledger.cli.main import cli; cli()"]


def subprocess_env() -> dict[str, str]:
    """The environment of a child `jobledger`, without the caller's ledger settings."""
    env = {k: v for k, v in os.environ.items() if k not in ("JOBLEDGER_DB", "JOBLEDGER_VIEWS")}
    env["PYTHONWARNINGS"] = "error"
    return env


# --- fire times, independently ------------------------------------------------------------------


def _values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    """The values a plain cron field (`*`, `a-b`, `a,b`, `*/n`, `a-b/n`, names) allows."""
    allowed: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            start, end = low, high
        else:
            first, _, last = base.partition("-")
            start = _number(first, names)
            end = _number(last, names) if last else (high if step_text else start)
        allowed.update(range(start, end + 1, step))
    return allowed


def _number(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    return int(text)


# Quartz numbers days 1 (Sunday) .. 7 (Saturday); Python's weekday() is 0 (Monday) .. 6 (Sunday).
_QUARTZ_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_CRON_DAYS = {"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}


@dataclass(frozen=True)
class Rule:
    """A plain cron rule (no L, W or #) read field by field, in either the Quartz or 5-field form."""

    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None  # None: any day of the month
    months: frozenset[int]
    weekdays: frozenset[int] | None  # Python weekday() numbers; None: any day of the week

    @classmethod
    def parse(cls, expression: str) -> Rule:
        """Read a 5-, 6- or 7-field expression made of `*`, `?`, ranges, lists, steps and names."""
        fields = expression.split()
        if len(fields) == 5:
            fields = ["0", *fields]
            dow = _values(fields[5], 0, 6, _CRON_DAYS)
            weekdays = None if fields[5] in ("*", "?") else frozenset((d - 1) % 7 for d in dow)
        else:
            dow = _values(fields[5], 1, 7, _QUARTZ_DAYS)
            weekdays = None if fields[5] in ("*", "?") else frozenset((d - 2) % 7 for d in dow)
        return cls(
            seconds=frozenset(_values(fields[0], 0, 59)),
            minutes=frozenset(_values(fields[1], 0, 59)),
            hours=frozenset(_values(fields[2], 0, 23)),
            days=None if fields[3] in ("*", "?") else frozenset(_values(fields[3], 1, 31)),
            months=frozenset(_values(fields[4], 1, 12)),
            weekdays=weekdays,
        )

    def matches(self, wall: datetime) -> bool:
        """Whether a wall-clock time is one of the rule's times."""
        return (
            wall.second in self.seconds
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.month in self.months
            and (self.days is None or wall.day in self.days)
            and (self.weekdays is None or wall.weekday() in self.weekdays)
        )


def fire_times(expression: str, zone: str, after: datetime, until: datetime) -> Iterator[datetime]:
    """UTC instants in (after, until] whose wall clock in `zone` the rule names, minute by minute.

    Only for rules firing at whole minutes (second 0) and for windows without a DST change: the
    DST policy is checked by its own tests.
    """
    rule = Rule.parse(expression)
    tz = ZoneInfo(zone)
    moment = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while moment <= until:
        if rule.matches(moment.astimezone(tz)):
            yield moment
        moment += timedelta(minutes=1)


def next_after(
    expression: str, zone: str, after: datetime, horizon: timedelta = timedelta(days=8)
) -> datetime:
    """The first fire time strictly after `after`, by the independent scan."""
    for moment in fire_times(expression, zone, after, after + horizon):
        return moment
    raise AssertionError(f"{expression!r} does not fire within {horizon} after {after}")


def utc(text: str) -> datetime:
    """An ISO time as an aware datetime (a trailing Z means UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime) -> str:
    """A time as the CLI accepts it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def every(start: datetime, end: datetime, step: timedelta) -> Iterator[datetime]:
    """Times from start to end inclusive, `step` apart."""
    moment = start
    while moment <= end:
        yield moment
        moment += step
