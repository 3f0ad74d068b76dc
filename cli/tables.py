"""The table form of each list command: the columns people read, times compact, ages relative.

Each function turns the records a query returns (IPS field names, ISO 8601 times) into table rows;
the other formats print the records themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click

from jobledger.cli import terminal
from jobledger.cli.timefmt import age, ago, stalled, when
from jobledger.projections import queries
from jobledger.projections.database import ViewsDatabase

Record = dict[str, Any]

ACTIVE_COLUMNS = ["job", "type", "state", "server", "progress", "eta", "age", "last update"]
ACTIVE_OPTIONAL = ["type", "server", "age", "last update"]
LOG_COLUMNS = ["job", "type", "started", "outcome", "ok/wn/er"]


def bar(progress: int, width: int = 10) -> str:
    """A text progress bar: `####...... 40%`."""
    filled = round(progress * width / 100)
    return f"{'#' * filled}{'.' * (width - filled)} {progress:3d}%"


def active_rows(records: Sequence[Record], reference: datetime) -> list[Record]:
    """Runs with a progress bar, ETA, age and time since the last report; stalled runs marked."""
    return [
        {
            "job": r["jobHandle"],
            "type": r["type"],
            "state": f"{r['state']}, stalled" if stalled(r, reference) else r["state"],
            "server": r["serverName"],
            "progress": bar(r["progress"]),
            "eta": when(r["eta"]),
            "age": age(r["startDate"] or r["triggerTime"], reference),
            "last update": ago(r["lastProgressUpdate"] or r["startDate"], reference),
        }
        for r in records
    ]


def log_rows(records: Sequence[Record]) -> list[Record]:
    """One line a run: its start, its outcome (or state while live), deleted runs marked."""
    return [
        {
            "job": r["jobHandle"],
            "type": r["type"],
            "started": when(r["startDate"]),
            "outcome": (r["outcome"] or r["state"]) + (", deleted" if r.get("deleted") else ""),
            "ok/wn/er": f"{r['fileSuccessCount']}/{r['fileWarningCount']}/{r['fileErrorCount']}",
        }
        for r in records
    ]


def detail_rows(records: Sequence[Record]) -> list[Record]:
    """A run's log rows."""
    return [
        {
            "date": when(r["dateCreated"]),
            "logType": r["logType"],
            "asset": r["assetName"] or "",
            "message": r["logMessage"],
        }
        for r in records
    ]


def asset_rows(records: Sequence[Record]) -> list[Record]:
    """The log rows that name one asset."""
    return [
        {
            "date": when(r["logDate"]),
            "job": r["jobHandle"],
            "logType": r["logType"],
            "message": r["logMessage"],
        }
        for r in records
    ]


def scheduled_rows(records: Sequence[Record]) -> list[Record]:
    """Schedules with their rule, zone and next fire time."""
    return [
        {
            "schedule": r["jobHandle"],
            "type": r["type"],
            "rule": r["execSchedule"] or "once",
            "zone": r["timeZone"],
            "next": when(r["nextFireTime"]),
            "state": r["triggerState"],
        }
        for r in records
    ]


def warn_unknown_company(db: ViewsDatabase, company: str | None, shown: int) -> None:
    """On a terminal, say on stderr when an empty answer is because no such company exists."""
    if company is None or shown or not terminal.stdout_is_terminal():
        return
    known = queries.companies(db)
    if company in known:
        return
    listed = ", ".join(known[:10]) + (", …" if len(known) > 10 else "")
    click.echo(f"Warning: no company {company!r} in this ledger (companies: {listed or 'none'})", err=True)
