"""The dashboard's formatting (times, durations, event summaries, local paths) and its charts'
figures (runs per hour and events per minute over the last day, from the activity view's rows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

import pytest

from jobledger.web import charts
from jobledger.web import format as fmt

NOW = datetime(2026, 1, 2, 10, 30, 15, tzinfo=UTC)
OUTCOMES = [name for name, _ in charts.OUTCOME_COLOURS]
PLOT = charts.HEIGHT - charts.BOTTOM - charts.TOP  # the bars' full height


# --- format ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0s"),
        (59.9, "59s"),
        (60, "1m"),
        (3599, "59m"),
        (3600, "1h0m"),
        (3 * 3600 + 5 * 60 + 59, "3h5m"),
        (86399, "23h59m"),
        (86400, "1d0h"),
        (2 * 86400 + 4 * 3600 + 3599, "2d4h"),
        (400 * 86400, "400d0h"),
        (-1, ""),
    ],
)
def test_a_span_is_compact_and_cut_down_to_its_two_largest_units(seconds: float, shown: str) -> None:
    assert fmt.span(timedelta(seconds=seconds)) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (datetime(2026, 1, 2, 0, 0, 0, tzinfo=UTC), "00:00:00"),
        (datetime(2026, 1, 2, 23, 59, 59, tzinfo=UTC), "23:59:59"),  # today, even if later than now
        (datetime(2026, 1, 1, 23, 59, 59, tzinfo=UTC), "2026-01-01 23:59"),
        (datetime(2025, 1, 2, 10, 30, tzinfo=UTC), "2025-01-02 10:30"),  # the same day, another year
        ("2026-01-02T08:05:07.123456Z", "08:05:07"),
        ("2026-01-02T08:05:07", "08:05:07"),  # no zone: UTC
        (datetime(2026, 1, 2, 1, 0, tzinfo=timezone(timedelta(hours=2))), "2026-01-01 23:00"),  # in UTC
        (None, ""),
        ("", ""),
    ],
)
def test_when_shows_the_time_today_and_the_date_another_day_in_utc(value: Any, shown: str) -> None:
    assert fmt.when(value, NOW) == shown


def test_iso_ago_and_in_zone() -> None:
    assert fmt.iso("2026-01-02T11:30:15+01:00") == "2026-01-02T10:30:15Z"
    assert fmt.iso(None) == ""
    assert fmt.ago(NOW - timedelta(minutes=3, seconds=10), NOW) == "3m ago"
    assert fmt.ago(None, NOW) == ""
    assert fmt.in_zone(NOW, "Europe/Berlin") == "2026-01-02 11:30 CET"
    assert fmt.in_zone(NOW, "Nowhere/Atlantis") == "2026-01-02T10:30:15Z"  # an unknown zone: UTC
    assert fmt.in_zone(None, "UTC") == ""


def test_a_summary_leaves_out_the_empty_fields_and_compacts_the_rest() -> None:
    fields = {
        "jobHandle": "c47||spring",
        "description": "",
        "assetHandle": None,
        "auxArray": [],
        "counters": {},
        "fatalError": False,
        "payload": {"optimizeImagesJob": {"emailSetting": "All"}},
        "counts": {"a": 1, "b": 2},
        "taskProgressArray": [{"taskType": "Upload"}, {"taskType": "Publish"}],
        "progress": 40,
        "ratio": 0.5,
        "stopped": True,
    }
    assert fmt.summary(fields) == (
        "jobHandle=c47||spring payload=optimizeImagesJob counts={…} taskProgressArray=[2] progress=40"
        " ratio=0.5 stopped=True"
    )
    assert fmt.summary({}) == ""


def test_a_long_summary_is_cut_to_fit_its_cell_with_an_ellipsis() -> None:
    fitting = {"logMessage": "x" * (fmt.SUMMARY_LENGTH - len("logMessage="))}
    assert fmt.summary(fitting) == "logMessage=" + "x" * (fmt.SUMMARY_LENGTH - 11)
    assert len(fmt.summary(fitting)) == fmt.SUMMARY_LENGTH

    over = {"logMessage": "y" * fmt.SUMMARY_LENGTH}
    cut = fmt.summary(over)
    assert len(cut) == fmt.SUMMARY_LENGTH and cut.endswith("y…")
    assert cut == ("logMessage=" + "y" * fmt.SUMMARY_LENGTH)[: fmt.SUMMARY_LENGTH - 1] + "…"


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("/", True),
        ("/logs?outcome=errors&sortBy=JobName", True),
        ("/runs/acme%7C%7Cnightly", True),
        ("/runs/a\\b", True),  # a backslash after the first segment stays on the site
        (None, False),
        ("", False),
        ("logs", False),
        ("//evil.com", False),
        ("/\\evil.com", False),
        ("/\t/evil.com", False),
        ("/\n/evil.com", False),
        ("/logs\r\nSet-Cookie: x=1", False),
        ("/\x7f", False),
        ("http://evil.com/", False),
        ("javascript:alert(1)", False),
    ],
)
def test_a_local_path_is_kept_and_anything_else_is_the_front_page(value: str | None, kept: bool) -> None:
    assert fmt.local_path(value) == (value if kept else "/")


# --- charts ------------------------------------------------------------------------------------------


def minute(at: datetime, **counts: int) -> dict[str, Any]:
    """One row of queries.activity: a minute and its counts (the missing ones 0)."""
    return {"minute": at, **{name: counts.get(name, 0) for name in ("events", "started", *OUTCOMES)}}


FIRST_HOUR = datetime(2026, 1, 1, 11, 0, tzinfo=UTC)  # 23 hours before NOW's hour: the first bar
LAST_HOUR = datetime(2026, 1, 2, 10, 0, tzinfo=UTC)  # NOW's hour: the last bar


def test_the_hourly_charts_count_each_hour_of_the_last_24_and_nothing_else() -> None:
    rows = [
        minute(FIRST_HOUR - timedelta(minutes=1), started=100, success=100),  # 24 h back: left out
        minute(FIRST_HOUR, started=1, success=1),
        minute(FIRST_HOUR + timedelta(minutes=59), started=2, errors=1, events=9),
        minute(FIRST_HOUR + timedelta(hours=1), started=4),
        minute(LAST_HOUR + timedelta(minutes=30), started=3, fatal=1, stopped=2, warnings=1),
        minute(LAST_HOUR + timedelta(minutes=59), started=5),  # later than now, in this hour
        minute(LAST_HOUR + timedelta(hours=1), started=100),  # the next hour: left out
    ]
    started, finished = charts.hourly(rows, NOW)

    assert [label for label, _ in started.table] == [f"{(11 + i) % 24:02}:00" for i in range(24)]
    assert [values[0] for _, values in started.table] == [3, 4, *[0] * 21, 8]
    by_hour = {label: dict(zip(finished.columns, values, strict=True)) for label, values in finished.table}
    assert finished.columns == OUTCOMES
    assert by_hour["11:00"] == {"success": 1, "warnings": 0, "errors": 1, "fatal": 0, "stopped": 0}
    assert by_hour["10:00"] == {"success": 0, "warnings": 1, "errors": 0, "fatal": 1, "stopped": 2}
    assert sum(sum(values) for _, values in finished.table) == 6
    assert started.summary == "15 runs started in the last 24 hours, at most 8 in an hour"
    assert finished.summary == (
        "6 runs finished in the last 24 hours: 1 success, 1 warnings, 1 errors, 1 fatal, 2 stopped"
    )
    assert [tick["label"] for tick in started.ticks] == [f"{(11 + i) % 24:02}:00" for i in range(0, 24, 3)]


def test_the_bars_are_scaled_to_a_round_top_and_stacked_by_outcome() -> None:
    rows = [minute(LAST_HOUR, started=7, success=2, errors=3)]
    started, finished = charts.hourly(rows, NOW)

    assert len(started.bars) == 24  # one per hour, empty ones too
    top = 10  # the round top above 7
    assert [level["label"] for level in started.levels] == ["0", "5", "10"]
    last = started.bars[-1]
    assert last["h"] == pytest.approx(PLOT * 7 / top)
    assert last["y"] + last["h"] == pytest.approx(charts.TOP + PLOT)  # standing on the axis
    assert last["title"] == "10:00: 7 started"
    assert all(bar["h"] == 0 for bar in started.bars[:-1])

    success, errors = finished.bars  # only the outcomes that happened, bottom up
    colours = dict(charts.OUTCOME_COLOURS)
    assert (success["colour"], errors["colour"]) == (colours["success"], colours["errors"])
    assert success["y"] + success["h"] == pytest.approx(charts.TOP + PLOT)
    assert errors["y"] + errors["h"] == pytest.approx(success["y"])  # on top of the successes
    assert success["h"] + errors["h"] == pytest.approx(PLOT * 5 / 5)  # 5 is its own round top
    assert all(bar["x"] == success["x"] for bar in finished.bars)


@pytest.mark.parametrize(
    ("most", "top"), [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (11, 20), (250, 500), (1000, 1000)]
)
def test_the_round_top_of_an_axis(most: int, top: int) -> None:
    rows = [minute(LAST_HOUR, started=most)]
    started, _ = charts.hourly(rows, NOW)
    assert started.levels[-1]["label"] == f"{top:,}"


def test_no_activity_gives_empty_charts_without_dividing_by_zero() -> None:
    started, finished = charts.hourly([], NOW)
    assert [bar["h"] for bar in started.bars] == [0] * 24
    assert finished.bars == []
    assert [values for _, values in started.table] == [[0]] * 24
    assert started.summary == "0 runs started in the last 24 hours, at most 0 in an hour"
    assert finished.summary.startswith("0 runs finished in the last 24 hours: 0 success")

    events = charts.per_minute([], NOW)
    points = [tuple(map(float, point.split(","))) for point in events.line.split()]
    assert len(points) == 1440 and {y for _, y in points} == {float(charts.TOP + PLOT)}
    assert [values for _, values in events.table] == [[0]] * 24
    assert events.summary.startswith("0 events of runs in the last 24 hours, at most 0 a minute")


def test_events_per_minute_cover_the_last_1440_minutes() -> None:
    first = datetime(2026, 1, 1, 10, 31, tzinfo=UTC)  # 1439 minutes before NOW's minute
    rows = [
        minute(first - timedelta(minutes=1), events=50),  # a day back: left out
        minute(first, events=3),
        minute(first + timedelta(minutes=59), events=4),
        minute(datetime(2026, 1, 2, 9, 0, tzinfo=UTC), events=12),
        minute(datetime(2026, 1, 2, 10, 30, tzinfo=UTC), events=6),  # NOW's minute: the last point
        minute(datetime(2026, 1, 2, 10, 31, tzinfo=UTC), events=50),  # the future: left out
    ]
    chart = charts.per_minute(rows, NOW)

    points = [tuple(map(float, point.split(","))) for point in chart.line.split()]
    assert len(points) == 1440
    heights = [charts.TOP + PLOT - y for _, y in points]
    top = 20  # the round top above 12
    assert heights[0] == pytest.approx(PLOT * 3 / top, abs=0.1)
    assert heights[59] == pytest.approx(PLOT * 4 / top, abs=0.1)
    assert heights[-1] == pytest.approx(PLOT * 6 / top, abs=0.1)
    assert sum(1 for h in heights if h > 0) == 4
    assert xs_increase([x for x, _ in points])

    table = dict((label, values[0]) for label, values in chart.table)
    assert len(table) == 24 and table["10:31"] == 7 and sum(table.values()) == 25
    assert chart.summary == "25 events of runs in the last 24 hours, at most 12 a minute (at 09:00 UTC)"
    assert chart.area.startswith(f"{charts.LEFT},{charts.TOP + PLOT} ") and chart.area.endswith(
        f",{charts.TOP + PLOT}"
    )


def xs_increase(xs: list[float]) -> bool:
    return all(a < b for a, b in pairwise(xs)) and xs[0] == charts.LEFT
