"""Schedules through the CLI, as a new user would drive them: a simulated week of ticks in several zones,
the `scheduled` listing in every format, pause/resume/execute/delete, and one-line errors."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from schedule_support import OPTIMIZE_JSON, as_json, fails, fire_times, iso, ok, run, utc

from jobledger.service.ledger import JobLedger

WEEK_START = datetime(2026, 3, 23, tzinfo=UTC)  # a Monday; Berlin moves its clocks on Sunday 29 March
WEEK_END = WEEK_START + timedelta(days=7)
SCHEDULED_FIELDS = [
    "companyHandle",
    "jobHandle",
    "name",
    "originalName",
    "type",
    "submitUserEmail",
    "locale",
    "description",
    "execSchedule",
    "nextFireTime",
    "timeZone",
    "triggerState",
]


def event_count(db: str) -> int:
    ledger = JobLedger(db, create=False)
    try:
        return ledger.event_count()
    finally:
        ledger.close()


def submit(db: str, name: str, *when: str, company: str = "acme", at: datetime = WEEK_START) -> str:
    return ok(
        db,
        "submit",
        "--company",
        company,
        "--name",
        name,
        "--type",
        "optimizeImagesJob",
        "--payload",
        OPTIMIZE_JSON,
        *when,
        "--at",
        iso(at),
    ).strip()


# --- a simulated week ------------------------------------------------------------------------------

RECURRING = {
    # name: (rule, zone)
    "BerlinWeekdays": ("0 15 10 ? * MON-FRI", "Europe/Berlin"),
    "BerlinHourly": ("0 0 * * * ?", "Europe/Berlin"),
    "NewYorkSixHourly": ("0 0 */6 * * ?", "America/New_York"),
    "TokyoMonWedFri": ("30 9 * * 1,3,5", "Asia/Tokyo"),
    "UtcSundays": ("0 0 0 ? * 1", "UTC"),
}
ONE_OFFS = {
    "KolkataOnce": "2026-03-25T18:30:00+05:30",
    "SydneyOnce": "2026-03-27T09:00:00+11:00",
}
PAUSED = ("UtcHalfHourly", "0 */30 * * * ?")  # paused at once, never resumed
DELETED = ("UtcNoon", "0 0 12 * * ?", WEEK_START + timedelta(days=3))  # deleted on Thursday
RESUMED = ("UtcSix", "0 0 6 * * ?", WEEK_START + timedelta(days=4))  # paused Monday, resumed Friday


@dataclass
class Week:
    """A ledger ticked through a week, what each tick printed, and each schedule's expected fire times."""

    db: str
    expected: dict[str, list[datetime]] = field(default_factory=dict)
    printed: list[str] = field(default_factory=list)
    printed_again: list[str] = field(default_factory=list)


def _simulate(db: str) -> Week:
    week = Week(db)
    for name, (rule, zone) in RECURRING.items():
        submit(db, name, "--exec-schedule", rule, "--time-zone", zone)
        week.expected[name] = list(fire_times(rule, zone, WEEK_START, WEEK_END))
    for name, moment in ONE_OFFS.items():
        submit(db, name, "--exec-time", moment)
        week.expected[name] = [utc(moment).astimezone(UTC)]
    paused = submit(db, PAUSED[0], "--exec-schedule", PAUSED[1])
    ok(db, "pause", paused, "--at", iso(WEEK_START))
    week.expected[PAUSED[0]] = []
    deleted_name, deleted_rule, deleted_at = DELETED
    deleted = submit(db, deleted_name, "--exec-schedule", deleted_rule)
    week.expected[deleted_name] = list(fire_times(deleted_rule, "UTC", WEEK_START, deleted_at))
    resumed_name, resumed_rule, resumed_at = RESUMED
    resumed = submit(db, resumed_name, "--exec-schedule", resumed_rule)
    ok(db, "pause", resumed, "--at", iso(WEEK_START))
    # Policy: the fire time missed while paused fires once at the first tick after resume (with its
    # own trigger time); later fire times follow the rule.
    week.expected[resumed_name] = [
        WEEK_START + timedelta(hours=6),
        *fire_times(resumed_rule, "UTC", resumed_at, WEEK_END),
    ]

    moments = {t for times in week.expected.values() for t in times}
    moments |= {deleted_at, resumed_at, WEEK_END}
    for index, moment in enumerate(sorted(moments)):
        if moment == deleted_at:
            ok(db, "delete", deleted, "--at", iso(moment))
        if moment == resumed_at:
            ok(db, "resume", resumed, "--at", iso(moment))
        week.printed += ok(db, "scheduler", "tick", "--at", iso(moment)).split()
        if index % 3 == 0:  # every third moment is ticked twice, as by a second, late scheduler
            week.printed_again += ok(db, "scheduler", "tick", "--at", iso(moment)).split()
    return week


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Week]:
    with pytest.MonkeyPatch.context() as patch:
        for name in ("JOBLEDGER_DB", "JOBLEDGER_VIEWS"):
            patch.delenv(name, raising=False)
        yield _simulate(str(tmp_path_factory.mktemp("week") / "ledger.db"))


def _runs(db: str) -> list[dict[str, Any]]:
    return as_json(db, "active", "--include-waiting")


def test_the_week_has_one_run_per_expected_fire_time_of_each_schedule(week: Week) -> None:
    runs = _runs(week.db)
    for name, expected in week.expected.items():
        triggered = sorted(utc(r["triggerTime"]) for r in runs if r["originalName"] == name)
        assert triggered == sorted(expected), name


def test_the_week_counts_match_in_the_job_logs_too(week: Week) -> None:
    logs = as_json(week.db, "logs")
    counts = {name: sum(1 for r in logs if r["originalJobName"] == name) for name in week.expected}
    assert counts == {name: len(times) for name, times in week.expected.items()}
    assert counts["BerlinHourly"] == 7 * 24  # one per real hour, across the spring-forward night
    assert counts["BerlinWeekdays"] == 5 and counts["NewYorkSixHourly"] == 28


def test_each_run_printed_by_a_tick_is_one_of_the_runs_and_every_run_was_printed(week: Week) -> None:
    handles = {r["jobHandle"] for r in _runs(week.db)}
    assert sorted(week.printed) == sorted(handles)


def test_ticking_again_at_the_same_time_creates_nothing(week: Week) -> None:
    assert week.printed_again == []


def test_runs_are_named_after_their_schedule_and_fire_time_and_name_it_in_their_history(week: Week) -> None:
    run_ = next(r for r in _runs(week.db) if r["originalName"] == "BerlinWeekdays")
    assert run_["jobHandle"] == "acme||BerlinWeekdays_2026-03-23-09:15:00"
    assert run_["name"] == "BerlinWeekdays_2026-03-23-09:15:00"
    history = [
        json.loads(line)
        for line in ok(week.db, "history", run_["jobHandle"], "--format", "ndjson").split("\n")
        if line
    ]
    assert history[0]["event"] == "Submitted"
    assert history[0]["fields"]["scheduleHandle"] == "acme|BerlinWeekdays|"
    assert history[0]["fields"]["triggerTime"] == "2026-03-23T09:15:00Z"


def test_after_the_week_the_listing_shows_each_live_schedules_next_fire_time(week: Week) -> None:
    rows = {r["originalName"]: r for r in as_json(week.db, "scheduled")}
    assert set(rows) == {*RECURRING, PAUSED[0], RESUMED[0]}
    assert rows["BerlinHourly"]["nextFireTime"] == "2026-03-30T01:00:00.000000Z"
    assert rows["BerlinWeekdays"]["nextFireTime"] == "2026-03-30T08:15:00.000000Z"  # now CEST
    assert rows[PAUSED[0]]["triggerState"] == "Paused"


# --- the scheduled listing -------------------------------------------------------------------------


@pytest.fixture
def listed(ledger_path: str) -> str:
    ok(
        ledger_path,
        "submit",
        "--company",
        "acme",
        "--name",
        "Nightly publish",
        "--type",
        "imageServingPublishJob",
        "--payload",
        '{"emailSetting": "Error", "publishType": "Incremental"}',
        "--user-email",
        "ops@acme.test",
        "--locale",
        "de-DE",
        "--description",
        "publish, every night",
        "--exec-schedule",
        "0 30 2 * * ?",
        "--time-zone",
        "Europe/Berlin",
        "--at",
        "2026-01-05T00:00:00Z",
    )
    submit(
        ledger_path,
        "Once",
        "--exec-time",
        "2026-01-09T08:00:00-05:00",
        company="globex",
        at=datetime(2026, 1, 5, tzinfo=UTC),
    )
    return ledger_path


NIGHTLY = {
    "companyHandle": "acme",
    "jobHandle": "acme|Nightly publish|",
    "name": "Nightly publish",
    "originalName": "Nightly publish",
    "type": "ImageServingPublish",
    "submitUserEmail": "ops@acme.test",
    "locale": "de-DE",
    "description": "publish, every night",
    "execSchedule": "0 30 2 * * ?",
    "nextFireTime": "2026-01-05T01:30:00.000000Z",
    "timeZone": "Europe/Berlin",
    "triggerState": "Normal",
    "imageServingPublishJob": {"emailSetting": "Error", "publishType": "Incremental"},
}


def test_scheduled_json_lists_the_ips_scheduled_job_fields_with_the_payload_under_its_kind(
    listed: str,
) -> None:
    rows = as_json(listed, "scheduled")
    assert [r["jobHandle"] for r in rows] == ["acme|Nightly publish|", "globex|Once|"]
    nightly = rows[0]
    assert list(nightly)[: len(SCHEDULED_FIELDS)] == SCHEDULED_FIELDS
    payload = {k: v for k, v in nightly.pop("imageServingPublishJob").items() if v is not None}
    assert {**nightly, "imageServingPublishJob": payload} == NIGHTLY
    once = rows[1]
    assert (once["execSchedule"], once["nextFireTime"], once["timeZone"]) == (
        None,
        "2026-01-09T13:00:00.000000Z",
        "UTC",
    )
    assert once["optimizeImagesJob"] == {"emailSetting": "All"}


def test_scheduled_ndjson_has_one_record_a_line(listed: str) -> None:
    lines = ok(listed, "scheduled", "--format", "ndjson").splitlines()
    records = [json.loads(line) for line in lines]
    assert records == as_json(listed, "scheduled")


def test_scheduled_csv_has_the_ips_field_names_as_its_header(listed: str) -> None:
    rows = list(csv.DictReader(io.StringIO(ok(listed, "scheduled", "--format", "csv"))))
    assert len(rows) == 2
    assert list(rows[0])[: len(SCHEDULED_FIELDS)] == SCHEDULED_FIELDS
    assert {k: rows[0][k] for k in SCHEDULED_FIELDS} == {k: str(NIGHTLY[k]) for k in SCHEDULED_FIELDS}


def test_scheduled_table_shows_each_schedule_its_rule_zone_and_state(listed: str) -> None:
    table = ok(listed, "scheduled")
    header, *lines = table.splitlines()
    for column in ("schedule", "rule", "zone", "state"):
        assert column in header
    assert any(
        "acme|Nightly publish|" in line and "0 30 2 * * ?" in line and "Europe/Berlin" in line
        for line in lines
    )
    assert any("globex|Once|" in line and "once" in line for line in lines)


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--company", "globex", ["globex|Once|"]),
        ("--job", "acme|Nightly publish|", ["acme|Nightly publish|"]),
        ("--original-name", "Once", ["globex|Once|"]),
        ("--company", "nobody", []),
    ],
)
def test_scheduled_filters_like_get_scheduled_jobs(
    listed: str, option: str, value: str, expected: list[str]
) -> None:
    assert [r["jobHandle"] for r in as_json(listed, "scheduled", option, value)] == expected


# --- operations ------------------------------------------------------------------------------------


def test_pause_resume_execute_and_delete_through_the_cli(ledger_path: str) -> None:
    handle = submit(ledger_path, "Ops", "--exec-schedule", "0 0 * * * ?")
    assert handle == "acme|Ops|"
    assert ok(ledger_path, "pause", handle, "--at", "2026-03-23T00:10:00Z") == "acme|Ops|: Paused\n"
    assert ok(ledger_path, "scheduler", "tick", "--at", "2026-03-23T03:00:00Z") == ""
    run_ = ok(ledger_path, "execute", handle, "--at", "2026-03-23T03:00:00Z").strip()
    assert run_ == "acme||Ops_2026-03-23-03:00:00"
    assert as_json(ledger_path, "scheduled")[0]["triggerState"] == "Paused"
    assert ok(ledger_path, "resume", handle, "--at", "2026-03-23T03:30:00Z") == "acme|Ops|: Normal\n"
    missed = ok(ledger_path, "scheduler", "tick", "--at", "2026-03-23T03:30:00Z").split()
    assert missed == ["acme||Ops_2026-03-23-01:00:00"]
    assert as_json(ledger_path, "scheduled")[0]["nextFireTime"] == "2026-03-23T04:00:00.000000Z"
    assert ok(ledger_path, "delete", handle, "--at", "2026-03-23T03:45:00Z") == "acme|Ops|: deleted\n"
    assert as_json(ledger_path, "scheduled") == []
    assert ok(ledger_path, "scheduler", "tick", "--at", "2026-03-23T09:00:00Z") == ""
    assert len(_runs(ledger_path)) == 2


def test_a_one_off_leaves_the_listing_once_it_has_fired(ledger_path: str) -> None:
    handle = submit(ledger_path, "Once", "--exec-time", "2026-03-23T10:00:00+02:00")
    assert ok(ledger_path, "scheduler", "tick", "--at", "2026-03-23T07:59:59Z") == ""
    assert ok(ledger_path, "scheduler", "tick", "--at", "2026-03-23T08:00:00Z").split() == [
        "acme||Once_2026-03-23-08:00:00"
    ]
    assert as_json(ledger_path, "scheduled") == []
    assert ok(ledger_path, "show", handle, "--format", "json").count('"triggerState": "Complete"') == 1


def test_scheduler_tick_with_nothing_due_prints_nothing(ledger_path: str) -> None:
    submit(ledger_path, "Later", "--exec-schedule", "0 0 12 * * ?")
    assert ok(ledger_path, "scheduler", "tick", "--at", iso(WEEK_START + timedelta(hours=1))) == ""


# --- errors ----------------------------------------------------------------------------------------


@pytest.fixture
def populated(ledger_path: str) -> dict[str, str]:
    schedule = submit(ledger_path, "Live", "--exec-schedule", "0 0 * * * ?")
    gone = submit(ledger_path, "Gone", "--exec-schedule", "0 0 * * * ?")
    ok(ledger_path, "delete", gone, "--at", iso(WEEK_START))
    run_ = ok(ledger_path, "scheduler", "tick", "--at", iso(WEEK_START + timedelta(hours=1))).strip()
    return {"db": ledger_path, "schedule": schedule, "gone": gone, "run": run_}


ERRORS = [
    (
        "both-times",
        1,
        [
            "submit",
            "--company",
            "acme",
            "--name",
            "X",
            "--type",
            "optimizeImagesJob",
            "--payload",
            OPTIMIZE_JSON,
            "--exec-time",
            "2026-04-01T00:00:00Z",
            "--exec-schedule",
            "0 0 * * * ?",
        ],
        ["at most one of execTime and execSchedule", "IPS rule"],
    ),
    (
        "bad-hour",
        1,
        [
            "submit",
            "--company",
            "acme",
            "--name",
            "X",
            "--type",
            "optimizeImagesJob",
            "--payload",
            OPTIMIZE_JSON,
            "--exec-schedule",
            "0 0 25 * * ?",
        ],
        ["hour field '25'"],
    ),
    (
        "field-count",
        1,
        [
            "submit",
            "--company",
            "acme",
            "--name",
            "X",
            "--type",
            "optimizeImagesJob",
            "--payload",
            OPTIMIZE_JSON,
            "--exec-schedule",
            "0 0 *",
        ],
        ["has 3 fields"],
    ),
    (
        "unknown-zone",
        1,
        [
            "submit",
            "--company",
            "acme",
            "--name",
            "X",
            "--type",
            "optimizeImagesJob",
            "--payload",
            OPTIMIZE_JSON,
            "--exec-schedule",
            "0 0 * * * ?",
            "--time-zone",
            "Europe/Atlantis",
        ],
        ["unknown time zone 'Europe/Atlantis'"],
    ),
    (
        "same-name",
        1,
        [
            "submit",
            "--company",
            "acme",
            "--name",
            "Live",
            "--type",
            "optimizeImagesJob",
            "--payload",
            OPTIMIZE_JSON,
            "--exec-time",
            "2026-04-01T00:00:00Z",
        ],
        ["already has a schedule named 'Live'"],
    ),
    (
        "pause-a-run",
        1,
        ["pause", "{run}"],
        ["cannot pause run", "stop the run", "pause its schedule acme|Live|"],
    ),
    ("resume-a-run", 1, ["resume", "{run}"], ["cannot resume run", "resume its schedule acme|Live|"]),
    ("execute-a-run", 1, ["execute", "{run}"], ["execute acts on schedules"]),
    ("resume-normal", 1, ["resume", "{schedule}"], ["not Paused"]),
    ("stop-a-schedule", 1, ["stop", "{schedule}"], ["stop acts on runs"]),
    ("start-a-schedule", 1, ["start", "{schedule}", "--server", "s1"], ["is a schedule, not a run"]),
    ("progress-a-schedule", 1, ["progress", "{schedule}", "--percent", "5"], ["is a schedule, not a run"]),
    ("pause-deleted", 1, ["pause", "{gone}"], ["deleted"]),
    ("execute-deleted", 1, ["execute", "{gone}"], ["deleted"]),
    ("delete-deleted", 1, ["delete", "{gone}"], ["deleted"]),
    ("pause-unknown", 1, ["pause", "acme|Nothing|"], ["no job with handle"]),
    ("pause-other-company", 1, ["pause", "{schedule}", "--company", "globex"], ["no job with handle"]),
    ("tick-bad-time", 2, ["scheduler", "tick", "--at", "tomorrow"], ["not an ISO 8601 time"]),
    ("run-zero-interval", 2, ["scheduler", "run", "--interval", "0"], ["--interval"]),
    (
        "bad-exec-time",
        2,
        ["submit", "--company", "acme", "--name", "X", "--type", "optimizeImagesJob", "--exec-time", "soon"],
        ["--exec-time"],
    ),
    ("scheduled-bad-format", 2, ["scheduled", "--format", "xml"], ["--format"]),
    ("scheduler-no-subcommand-typo", 2, ["scheduler", "tock"], ["tock"]),
]


PLACEHOLDERS = ("{run}", "{schedule}", "{gone}")


@pytest.mark.parametrize(
    ("exit_code", "args", "fragments"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_errors_are_one_line_with_the_right_exit_code_and_append_nothing(
    populated: dict[str, str], exit_code: int, args: list[str], fragments: list[str]
) -> None:
    db = populated["db"]
    before = event_count(db)
    line = fails(db, exit_code, *[populated[a[1:-1]] if a in PLACEHOLDERS else a for a in args])
    for fragment in fragments:
        assert fragment in line, line
    assert event_count(db) == before


def test_every_schedule_command_has_help(ledger_path: str) -> None:
    for command in (
        ["scheduled"],
        ["scheduler"],
        ["scheduler", "tick"],
        ["scheduler", "run"],
        ["pause"],
        ["resume"],
        ["execute"],
        ["delete"],
        ["submit"],
    ):
        result = run(ledger_path, *command, "--help")
        assert result.exit_code == 0 and "Usage:" in result.stdout, command
    assert not Path(ledger_path).exists()


def test_scheduler_tick_on_a_missing_ledger_fails_in_one_line_and_creates_nothing(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.db")
    line = fails(missing, 1, "scheduler", "tick", "--at", iso(WEEK_START))
    assert "no ledger at" in line
    assert not Path(missing).exists()
