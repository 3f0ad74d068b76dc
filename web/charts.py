"""The activity charts as inline SVG of our own: bars per hour, a line per minute, no library.

Each chart is a few dozen shapes with a <title> each (a hover shows the figure, a screen reader
reads it), drawn on a fixed viewBox that the stylesheet scales to the page's width.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

WIDTH, HEIGHT = 720, 200
LEFT, BOTTOM, TOP = 36, 18, 8
OUTCOME_COLOURS = (
    ("success", "#1a7f37"),
    ("warnings", "#d4a72c"),
    ("errors", "#e16f24"),
    ("fatal", "#c62828"),
    ("stopped", "#6e7781"),
)
STARTED_COLOUR = "#1f5fbf"


@dataclass
class Chart:
    """What the template draws: shapes, axis labels and a summary for the figure's label."""

    title: str
    summary: str
    bars: list[dict[str, Any]] = field(default_factory=list)
    line: str = ""  # SVG points of a polyline
    area: str = ""  # the same closed along the axis, for a filled area
    ticks: list[dict[str, Any]] = field(default_factory=list)  # x labels
    levels: list[dict[str, Any]] = field(default_factory=list)  # y labels
    table: list[tuple[str, list[int]]] = field(default_factory=list)  # the figures, for a table
    columns: list[str] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT


def _scale(most: int) -> int:
    """A round top for the y axis, at least `most`."""
    power = 1
    while True:
        for step in (1, 2, 5):
            if step * power >= most:
                return step * power
        power *= 10


def _levels(top: int) -> list[dict[str, Any]]:
    plot = HEIGHT - BOTTOM - TOP
    return [{"y": TOP + plot - plot * i // 2, "label": f"{top * i // 2:,}"} for i in range(3)]


def hourly(minutes: list[dict[str, Any]], now: datetime) -> tuple[Chart, Chart]:
    """Runs started, and finished by outcome, in each of the last 24 hours."""
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    hours = [start + timedelta(hours=i) for i in range(24)]
    started = [0] * 24
    finished = {name: [0] * 24 for name, _ in OUTCOME_COLOURS}
    for row in minutes:
        slot = int((row["minute"] - start).total_seconds() // 3600)
        if 0 <= slot < 24:
            started[slot] += row["started"]
            for name, _ in OUTCOME_COLOURS:
                finished[name][slot] += row[name]
    plot, step = HEIGHT - BOTTOM - TOP, (WIDTH - LEFT) / 24
    labels = [f"{hour:%H}:00" for hour in hours]
    ticks = [{"x": LEFT + step * i + step / 2, "label": labels[i]} for i in range(0, 24, 3)]

    top = _scale(max(started))
    runs = Chart(
        title="Runs started per hour",
        summary=f"{sum(started):,} runs started in the last 24 hours, at most {max(started):,} in an hour",
        ticks=ticks,
        levels=_levels(top),
        columns=["started"],
        table=[(labels[i], [started[i]]) for i in range(24)],
    )
    for i, count in enumerate(started):
        height = plot * count / top
        runs.bars.append(
            {
                "x": LEFT + step * i + 1,
                "y": TOP + plot - height,
                "w": step - 2,
                "h": height,
                "colour": STARTED_COLOUR,
                "title": f"{labels[i]}: {count:,} started",
            }
        )

    totals = [sum(finished[name][i] for name, _ in OUTCOME_COLOURS) for i in range(24)]
    top = _scale(max(totals))
    done = Chart(
        title="Runs finished per hour, by outcome",
        summary=f"{sum(totals):,} runs finished in the last 24 hours: "
        + ", ".join(f"{sum(finished[name]):,} {name}" for name, _ in OUTCOME_COLOURS),
        ticks=ticks,
        levels=_levels(top),
        columns=[name for name, _ in OUTCOME_COLOURS],
        table=[(labels[i], [finished[name][i] for name, _ in OUTCOME_COLOURS]) for i in range(24)],
    )
    for i in range(24):
        base = float(TOP + plot)
        for name, colour in OUTCOME_COLOURS:
            count = finished[name][i]
            if not count:
                continue
            height = plot * count / top
            base -= height
            done.bars.append(
                {
                    "x": LEFT + step * i + 1,
                    "y": base,
                    "w": step - 2,
                    "h": height,
                    "colour": colour,
                    "title": f"{labels[i]}: {count:,} {name}",
                }
            )
    return runs, done


def per_minute(minutes: list[dict[str, Any]], now: datetime) -> Chart:
    """Events of runs in each minute of the last day, as a line."""
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=1439)
    counts = [0] * 1440
    for row in minutes:
        slot = int((row["minute"] - start).total_seconds() // 60)
        if 0 <= slot < 1440:
            counts[slot] += row["events"]
    plot, step = HEIGHT - BOTTOM - TOP, (WIDTH - LEFT) / 1440
    top = _scale(max(counts))
    points = " ".join(
        f"{LEFT + step * i:.1f},{TOP + plot - plot * c / top:.1f}" for i, c in enumerate(counts)
    )
    busiest = max(range(1440), key=counts.__getitem__)
    return Chart(
        title="Events per minute",
        summary=f"{sum(counts):,} events of runs in the last 24 hours, at most {counts[busiest]:,} a minute"
        f" (at {start + timedelta(minutes=busiest):%H:%M} UTC)",
        line=points,
        area=f"{LEFT},{TOP + plot} {points} {LEFT + step * 1439:.1f},{TOP + plot}",
        ticks=[
            {"x": LEFT + step * i, "label": f"{start + timedelta(minutes=i):%H:%M}"}
            for i in range(0, 1440, 180)
        ],
        levels=_levels(top),
        columns=["events"],
        table=[
            (f"{start + timedelta(minutes=i):%H:%M}", [sum(counts[i : i + 60])]) for i in range(0, 1440, 60)
        ],
    )
