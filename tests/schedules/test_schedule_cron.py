"""Cron: the Quartz and 5-field forms, their special characters, errors naming the field, zones and DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from schedule_support import every, fire_times, optimize

from jobledger.domain.cron import CronError, next_fire_time, validate
from jobledger.domain.errors import RuleError
from jobledger.domain.schedule_events import Fired
from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector
from jobledger.service.scheduler import tick


def fires(expression: str, zone: str, after: datetime, count: int) -> list[datetime]:
    """The next `count` fire times, each found from the one before as a scheduler does."""
    found: list[datetime] = []
    previous: datetime | None = None
    moment = after
    for _ in range(count):
        following = next_fire_time(expression, zone, moment, previous)
        assert following is not None
        found.append(following)
        previous = moment = following
    return found


def local(moments: list[datetime], zone: str) -> list[str]:
    """Wall-clock readings, for messages a person can check against a calendar."""
    return [m.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M:%S %Z") for m in moments]


JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)


# --- forms -----------------------------------------------------------------------------------------


def test_a_quartz_six_field_rule_fires_daily_at_its_second_minute_and_hour() -> None:
    assert fires("0 15 10 * * ?", "UTC", JAN_1, 3) == [
        datetime(2026, 1, 1, 10, 15, tzinfo=UTC),
        datetime(2026, 1, 2, 10, 15, tzinfo=UTC),
        datetime(2026, 1, 3, 10, 15, tzinfo=UTC),
    ]


def test_a_quartz_rule_honours_its_seconds_field() -> None:
    assert fires("30 */10 * * * ?", "UTC", JAN_1, 2) == [
        datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 10, 30, tzinfo=UTC),
    ]


def test_a_quartz_seven_field_rule_fires_only_in_its_year_and_then_never_again() -> None:
    assert next_fire_time("0 0 12 1 1 ? 2027", "UTC", JAN_1) == datetime(2027, 1, 1, 12, tzinfo=UTC)
    assert next_fire_time("0 0 12 1 1 ? 2027", "UTC", datetime(2027, 1, 1, 12, tzinfo=UTC)) is None


def test_the_five_field_form_fires_at_the_same_times_as_the_quartz_form() -> None:
    assert fires("15 10 * * *", "Europe/Berlin", JAN_1, 5) == fires(
        "0 15 10 * * ?", "Europe/Berlin", JAN_1, 5
    )


@pytest.mark.parametrize(
    ("expression", "zone"),
    [
        ("0 0 9 ? * 2-6", "UTC"),
        ("0 0 9 ? * MON-FRI", "UTC"),
        ("0 9 * * 1-5", "UTC"),
        ("0 */20 * * * ?", "America/New_York"),
        ("0 30 22 ? * 1,7", "Asia/Kolkata"),
        ("0 0 */6 * * ?", "Australia/Sydney"),
        ("45 6 1-7 * *", "Europe/Berlin"),
    ],
    ids=[
        "quartz-days-2-6",
        "quartz-day-names",
        "five-field-days-1-5",
        "every-20-min",
        "weekends-kolkata",
        "every-6-hours-sydney",
        "first-week-five-field",
    ],
)
def test_fire_times_agree_with_an_independent_minute_by_minute_reading(expression: str, zone: str) -> None:
    window_end = JAN_1 + timedelta(days=10)
    expected = list(fire_times(expression, zone, JAN_1, window_end))
    assert expected, "the rule should fire in the window"
    assert fires(expression, zone, JAN_1, len(expected)) == expected


def test_quartz_counts_days_of_the_week_from_sunday_as_one() -> None:
    sunday = next_fire_time("0 0 9 ? * 1", "UTC", JAN_1)
    saturday = next_fire_time("0 0 9 ? * 7", "UTC", JAN_1)
    assert sunday is not None and saturday is not None
    assert (sunday.strftime("%A"), saturday.strftime("%A")) == ("Sunday", "Saturday")


def test_the_five_field_form_counts_days_of_the_week_from_sunday_as_zero() -> None:
    sunday = next_fire_time("0 9 * * 0", "UTC", JAN_1)
    assert sunday is not None and sunday.strftime("%A") == "Sunday"


def test_a_question_mark_may_stand_in_either_day_field() -> None:
    assert next_fire_time("0 0 8 10 * ?", "UTC", JAN_1) == datetime(2026, 1, 10, 8, tzinfo=UTC)
    assert next_fire_time("0 0 8 ? * 4", "UTC", JAN_1) == datetime(2026, 1, 7, 8, tzinfo=UTC)  # Wednesday


# --- L, W, # ---------------------------------------------------------------------------------------


def test_hash_names_the_nth_weekday_of_the_month_so_6_hash_3_is_the_third_friday() -> None:
    found = fires("0 15 10 ? * 6#3", "UTC", JAN_1, 3)
    assert found == [
        datetime(2026, 1, 16, 10, 15, tzinfo=UTC),
        datetime(2026, 2, 20, 10, 15, tzinfo=UTC),
        datetime(2026, 3, 20, 10, 15, tzinfo=UTC),
    ], local(found, "UTC")
    assert all(m.strftime("%A") == "Friday" and 15 <= m.day <= 21 for m in found)


def test_hash_with_a_day_name_is_the_same_as_with_its_quartz_number() -> None:
    assert fires("0 0 7 ? * MON#1", "UTC", JAN_1, 4) == fires("0 0 7 ? * 2#1", "UTC", JAN_1, 4)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 31, 10, tzinfo=UTC)),
        (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 28, 10, tzinfo=UTC)),
        (datetime(2028, 2, 1, tzinfo=UTC), datetime(2028, 2, 29, 10, tzinfo=UTC)),
        (datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 4, 30, 10, tzinfo=UTC)),
        (datetime(2026, 12, 31, 10, tzinfo=UTC), datetime(2027, 1, 31, 10, tzinfo=UTC)),
    ],
    ids=["january-31", "february-28", "leap-february-29", "april-30", "after-the-last-day-fired"],
)
def test_l_in_the_day_of_month_is_the_last_day_of_that_month(after: datetime, expected: datetime) -> None:
    assert next_fire_time("0 0 10 L * ?", "UTC", after) == expected


def test_l_in_the_day_of_week_is_the_last_such_weekday_of_the_month() -> None:
    # Quartz: `6L` is the last Friday of the month (croniter spells it L5 after the day shift).
    found = fires("0 0 10 ? * 6L", "UTC", JAN_1, 3)
    assert found == [
        datetime(2026, 1, 30, 10, tzinfo=UTC),
        datetime(2026, 2, 27, 10, tzinfo=UTC),
        datetime(2026, 3, 27, 10, tzinfo=UTC),
    ], local(found, "UTC")


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 16, 10, tzinfo=UTC)),
        (datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 8, 14, 10, tzinfo=UTC)),
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 15, 10, tzinfo=UTC)),
    ],
    ids=["sunday-moves-to-monday", "saturday-moves-to-friday", "a-weekday-stays"],
)
def test_w_fires_on_the_weekday_nearest_the_given_day(after: datetime, expected: datetime) -> None:
    assert next_fire_time("0 0 10 15W * ?", "UTC", after) == expected


# --- 29 February -----------------------------------------------------------------------------------


def test_29_february_fires_next_in_the_next_leap_year() -> None:
    assert next_fire_time("0 0 12 29 2 ?", "UTC", JAN_1) == datetime(2028, 2, 29, 12, tzinfo=UTC)


def test_29_february_skips_three_years_after_firing() -> None:
    assert fires("0 0 12 29 2 ?", "UTC", JAN_1, 2) == [
        datetime(2028, 2, 29, 12, tzinfo=UTC),
        datetime(2032, 2, 29, 12, tzinfo=UTC),
    ]


def test_a_schedule_on_29_february_is_listed_with_its_leap_year_fire_time(schedules: JobLedger) -> None:
    handle = schedules.submit("acme", "Leap", optimize(), exec_schedule="0 0 12 29 2 ?", at=JAN_1)
    assert schedules.get(handle).nextFireTime == datetime(2028, 2, 29, 12, tzinfo=UTC)


# --- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "field", "value"),
    [
        ("60 0 0 * * ?", "second", "60"),
        ("0 61 * * * ?", "minute", "61"),
        ("0 0 25 * * ?", "hour", "25"),
        ("0 0 0 32 * ?", "day-of-month", "32"),
        ("0 0 0 ? 13 *", "month", "13"),
        ("0 0 0 ? * 8", "day-of-week", "8"),
        ("0 0 0 ? * 0", "day-of-week", "0"),
        ("61 * * * *", "minute", "61"),
        ("* 25 * * *", "hour", "25"),
        ("* * 32 * *", "day-of-month", "32"),
        ("* * * 13 *", "month", "13"),
        ("* * * * 8", "day-of-week", "8"),
        ("0 0 0 ? * MON#6", "day-of-week", "MON#6"),
    ],
    ids=lambda value: str(value).replace(" ", "_"),
)
def test_an_invalid_expression_is_refused_in_one_line_naming_the_field(
    expression: str, field: str, value: str
) -> None:
    with pytest.raises(CronError) as raised:
        validate(expression)
    message = str(raised.value)
    assert "\n" not in message
    assert field in message and value in message, message


@pytest.mark.parametrize("expression", ["0 0 * *", "1 2 3 4 5 6 7 8", "", "daily"])
def test_an_expression_with_the_wrong_number_of_fields_is_refused_naming_the_count(expression: str) -> None:
    with pytest.raises(CronError, match=rf"has {len(expression.split())} fields; give 5 .* or 6-7"):
        validate(expression)


def test_a_valid_expression_is_returned_verbatim() -> None:
    assert validate("00 15 10 * * ? ") == "00 15 10 * * ? "


def test_an_unknown_zone_is_refused_naming_it() -> None:
    with pytest.raises(CronError, match=r"unknown time zone 'Mars/Olympus_Mons'.*IANA"):
        next_fire_time("0 0 12 * * ?", "Mars/Olympus_Mons", JAN_1)


def test_submitting_in_an_unknown_zone_appends_nothing(schedules: JobLedger) -> None:
    with pytest.raises(RuleError, match="unknown time zone"):
        schedules.submit(
            "acme", "Nowhere", optimize(), exec_schedule="0 0 12 * * ?", time_zone="Nowhere/City"
        )
    assert schedules.event_count() == 0


def test_submitting_an_invalid_rule_appends_nothing(schedules: JobLedger) -> None:
    with pytest.raises(RuleError, match="hour field '25'"):
        schedules.submit("acme", "Bad", optimize(), exec_schedule="0 0 25 * * ?")
    assert schedules.event_count() == 0


def test_a_rule_whose_years_are_past_is_refused_as_never_firing(schedules: JobLedger) -> None:
    with pytest.raises(RuleError, match="never fires"):
        schedules.submit("acme", "Past", optimize(), exec_schedule="0 0 12 1 1 ? 2020", at=JAN_1)
    assert schedules.event_count() == 0


# --- zones and DST ---------------------------------------------------------------------------------


def test_a_rule_is_read_in_its_zone() -> None:
    assert next_fire_time("0 0 9 * * ?", "Asia/Kolkata", JAN_1) == datetime(2026, 1, 1, 3, 30, tzinfo=UTC)
    assert next_fire_time("0 0 9 * * ?", "America/New_York", JAN_1) == datetime(2026, 1, 1, 14, tzinfo=UTC)


def _on_local_day(moments: list[datetime], zone: str, day: str) -> list[datetime]:
    return [m for m in moments if m.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d") == day]


@pytest.mark.parametrize(
    ("expression", "zone", "change_day", "before"),
    [
        ("0 30 2 * * ?", "Europe/Berlin", "2026-03-29", datetime(2026, 3, 27, tzinfo=UTC)),
        ("30 2 * * *", "America/New_York", "2026-03-08", datetime(2026, 3, 6, tzinfo=UTC)),
    ],
    ids=["berlin", "new-york"],
)
def test_a_time_in_the_spring_forward_gap_fires_once_at_the_shifted_time(
    expression: str, zone: str, change_day: str, before: datetime
) -> None:
    found = fires(expression, zone, before, 4)
    on_change_day = _on_local_day(found, zone, change_day)
    assert len(on_change_day) == 1, local(found, zone)
    wall = on_change_day[0].astimezone(ZoneInfo(zone))
    # 02:30 does not exist that night; the run moves into the hour after the gap, not to another day.
    assert (3, 0) <= (wall.hour, wall.minute) <= (3, 30), local(found, zone)
    others = [m.astimezone(ZoneInfo(zone)) for m in found if m not in on_change_day]
    assert all((w.hour, w.minute) == (2, 30) for w in others), local(found, zone)


@pytest.mark.parametrize(
    ("expression", "zone", "change_day", "before", "first"),
    [
        (
            "0 30 2 * * ?",
            "Europe/Berlin",
            "2026-10-25",
            datetime(2026, 10, 23, tzinfo=UTC),
            datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        ),
        (
            "30 1 * * *",
            "America/New_York",
            "2026-11-01",
            datetime(2026, 10, 30, tzinfo=UTC),
            datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
        ),
    ],
    ids=["berlin", "new-york"],
)
def test_a_time_in_the_repeated_fall_back_hour_fires_once_not_twice(
    expression: str, zone: str, change_day: str, before: datetime, first: datetime
) -> None:
    found = fires(expression, zone, before, 4)
    assert _on_local_day(found, zone, change_day) == [first], local(found, zone)
    gaps = {b - a for a, b in pairwise(found)}
    assert min(gaps) >= timedelta(hours=23), local(found, zone)


def _ticked_trigger_times(path: str, expression: str, zone: str, ticks: list[datetime]) -> list[datetime]:
    ledger = JobLedger(path)
    try:
        handle = ledger.submit(
            "acme", "Dst", optimize(), exec_schedule=expression, time_zone=zone, at=ticks[0]
        )
        projector = open_projector(ledger)
        for moment in ticks:
            tick(ledger, projector, moment)
        runs = [ledger.get_job(e.runHandle) for e in ledger.history(handle) if isinstance(e, Fired)]
        return [run.triggerTime for run in runs if run.triggerTime is not None]
    finally:
        ledger.close()


@pytest.mark.parametrize(
    ("expression", "zone", "night_start", "change_day"),
    [
        ("0 30 2 * * ?", "Europe/Berlin", datetime(2026, 3, 28, 22, tzinfo=UTC), "2026-03-29"),
        ("0 30 2 * * ?", "Europe/Berlin", datetime(2026, 10, 24, 22, tzinfo=UTC), "2026-10-25"),
        ("0 30 2 * * ?", "America/New_York", datetime(2026, 3, 8, 4, tzinfo=UTC), "2026-03-08"),
        ("0 30 1 * * ?", "America/New_York", datetime(2026, 11, 1, 3, tzinfo=UTC), "2026-11-01"),
    ],
    ids=["berlin-spring", "berlin-fall", "new-york-spring", "new-york-fall"],
)
def test_the_scheduler_ticking_through_a_dst_night_creates_exactly_one_run(
    tmp_path: Path, expression: str, zone: str, night_start: datetime, change_day: str
) -> None:
    ticks = list(every(night_start, night_start + timedelta(hours=6), timedelta(minutes=10)))
    triggered = _ticked_trigger_times(str(tmp_path / "dst.db"), expression, zone, ticks)
    assert len(triggered) == 1, local(triggered, zone)
    assert _on_local_day(triggered, zone, change_day) == triggered, local(triggered, zone)
