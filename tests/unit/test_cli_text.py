"""How tables write text and times: control characters escaped, compact times, kubectl-like ages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobledger.cli import timefmt
from jobledger.cli.render import printable

NOON = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param("plain text, ünïcode ✓", "plain text, ünïcode ✓", id="printable-unchanged"),
        pytest.param("a\nb\r\tc", "a\\nb\\r\\tc", id="newline-return-tab"),
        pytest.param("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m", id="ansi-escape"),
        pytest.param("\x9b31m", "\\x9b31m", id="c1-control-sequence-introducer"),
        pytest.param("\x00\x07\x7f", "\\x00\\x07\\x7f", id="nul-bell-delete"),
        pytest.param("abc\u202edcba", "abc\\u202edcba", id="right-to-left-override"),
        pytest.param("line\u2028separator", "line\\u2028separator", id="unicode-line-separator"),
    ],
)
def test_printable_escapes_every_control_character(text: str, shown: str) -> None:
    assert printable(text) == shown


@pytest.fixture
def noon(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(timefmt, "now", lambda: NOON)
    monkeypatch.setattr(timefmt, "zone", lambda: UTC)
    return NOON


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param("2026-11-28T09:05:00.000000Z", "09:05:00", id="today-time-only"),
        pytest.param("2026-11-27T23:59:59Z", "2026-11-27 23:59:59", id="yesterday-with-date"),
        pytest.param("2026-11-29T00:00:00+00:00", "2026-11-29 00:00:00", id="tomorrow-with-date"),
        pytest.param("2026-11-28T13:00:00+02:00", "11:00:00", id="other-zone-shown-in-the-local-one"),
        pytest.param(None, "", id="no-time"),
    ],
)
def test_when_shows_the_date_unless_today(noon: datetime, value: str | None, shown: str) -> None:
    assert timefmt.when(value) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0s"),
        (59, "59s"),
        (60, "1m"),
        (3599, "59m"),
        (3600, "1h"),
        (3900, "1h5m"),
        (86400, "1d"),
        (97200, "1d3h"),
    ],
)
def test_age_reads_like_kubectl(seconds: int, shown: str) -> None:
    assert timefmt.age(NOON - timedelta(seconds=seconds), NOON) == shown


@pytest.mark.parametrize(
    ("record", "stalled"),
    [
        pytest.param(
            {"state": "Running", "lastProgressUpdate": NOON - timedelta(minutes=14)}, False, id="recent"
        ),
        pytest.param(
            {"state": "Running", "lastProgressUpdate": NOON - timedelta(minutes=16)}, True, id="silent"
        ),
        pytest.param(
            {"state": "Running", "startDate": NOON - timedelta(minutes=16)}, True, id="never-reported"
        ),
        pytest.param(
            {
                "state": "Running",
                "lastProgressUpdate": NOON,
                "eta": NOON - timedelta(seconds=1),
                "progress": 50,
            },
            True,
            id="overdue-eta",
        ),
        pytest.param(
            {
                "state": "Running",
                "lastProgressUpdate": NOON,
                "eta": NOON - timedelta(seconds=1),
                "progress": 100,
            },
            False,
            id="at-100-percent",
        ),
        pytest.param(
            {"state": "Stopping", "lastProgressUpdate": NOON - timedelta(hours=1)}, False, id="stopping"
        ),
        pytest.param({"state": "New"}, False, id="waiting"),
    ],
)
def test_a_running_job_is_stalled_when_silent_too_long_or_past_its_eta(
    record: dict[str, object], stalled: bool
) -> None:
    assert timefmt.stalled(record, NOON) is stalled
