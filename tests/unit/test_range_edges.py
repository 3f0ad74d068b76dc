"""The ends of the calendar in the pure parts: the range itself, cron fire times, the views' time
text and the tables' time forms (issue 15.4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from jobledger.cli import timefmt
from jobledger.domain.cron import next_fire_time
from jobledger.domain.decider import check_skew
from jobledger.domain.handles import run_name
from jobledger.domain.limits import EARLIEST, LATEST, outside
from jobledger.projections.rows import iso

EAST, WEST = timezone(timedelta(hours=14)), timezone(timedelta(hours=-14))
TINY = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("moment", "out"),
    [
        (EARLIEST, False),
        (LATEST, False),
        (EARLIEST.astimezone(EAST), False),
        (LATEST.astimezone(WEST), False),
        (EARLIEST - TINY, True),
        (LATEST + TINY, True),
        (datetime(1, 1, 1, tzinfo=EAST), True),
        (datetime(9999, 12, 31, 23, 59, 59, tzinfo=WEST), True),
        (datetime(1, 1, 2), False),  # no zone: UTC
        (datetime(9999, 12, 31), True),
    ],
    ids=str,
)
def test_the_range_holds_its_ends_in_any_zone(moment: datetime, out: bool) -> None:
    assert outside(moment) is out


def test_a_fire_time_past_the_range_means_the_schedule_never_fires_again() -> None:
    # 23:00 at UTC-12 on 9999-12-30 is 9999-12-31T11:00Z: past LATEST.
    assert next_fire_time("0 0 23 * * ?", "Etc/GMT+12", datetime(9999, 12, 30, 12, tzinfo=UTC)) is None


def test_a_fire_time_whose_utc_is_past_the_calendar_never_fires() -> None:
    # 23:00 at UTC-12 on 9999-12-31 is in the year 10000 in UTC.
    assert next_fire_time("0 0 23 31 12 ?", "Etc/GMT+12", LATEST - timedelta(hours=1)) is None


def test_a_fire_time_at_the_end_of_the_range_still_fires() -> None:
    fire = next_fire_time("59 59 23 * * ?", "UTC", datetime(9999, 12, 30, 12, tzinfo=UTC))

    assert fire == datetime(9999, 12, 30, 23, 59, 59, tzinfo=UTC)


def test_a_clock_skew_tolerance_past_the_calendar_accepts_every_time() -> None:
    assert check_skew(LATEST, timedelta.max) >= LATEST


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(1, 1, 1, tzinfo=EAST), "0001-01-01T00:00:00.000000Z"),
        (datetime(9999, 12, 31, 23, 59, 59, tzinfo=WEST), "9999-12-31T23:59:59.999999Z"),
        (EARLIEST.astimezone(EAST), "0001-01-02T00:00:00.000000Z"),
        (LATEST, "9999-12-30T23:59:59.999999Z"),
    ],
    ids=str,
)
def test_a_view_bound_past_the_calendar_in_utc_saturates_at_its_end(moment: datetime, text: str) -> None:
    assert iso(moment) == text


@pytest.mark.parametrize("zone", [EAST, WEST, UTC], ids=str)
@pytest.mark.parametrize(
    "value",
    [datetime(1, 1, 1, tzinfo=UTC), "9999-12-31T23:59:59.999999Z", EARLIEST, LATEST],
    ids=str,
)
def test_a_time_at_either_end_of_the_calendar_renders_in_any_local_zone(
    monkeypatch: pytest.MonkeyPatch, zone: timezone, value: datetime | str
) -> None:
    monkeypatch.setattr(timefmt, "zone", lambda: zone)
    moment = timefmt.as_time(value)
    assert moment is not None

    text = timefmt.when(value)

    assert text[:4] in ("0001", "9999"), text
    assert timefmt.ago(value, LATEST) and timefmt.ago(value, EARLIEST)
    assert timefmt.stalled({"state": "Running", "eta": value, "startDate": value}, LATEST) in (True, False)


def test_a_run_at_the_start_of_the_range_is_named_with_a_four_digit_year() -> None:
    assert run_name("n", EARLIEST.astimezone(EAST)) == "n_0001-01-02-00:00:00"
    assert run_name("n", LATEST, 2) == "n_9999-12-30-23:59:59-2"
