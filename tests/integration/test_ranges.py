"""The edges of every range (issue 15.4): each time and integer a command or option takes is accepted
at both ends of its range and refused one step past either, in one line, with nothing appended."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cli_checks import assert_one_line_error, explain
from cli_support import event_count, ok, run
from samples import OPTIMIZE, at

from jobledger.cli.views import MAX_PAGE
from jobledger.domain.errors import OutOfRangeError
from jobledger.domain.events import Counters, JobLogDetailAux, TaskItemProgress, TaskProgress
from jobledger.domain.limits import EARLIEST, LATEST, MAX_COUNT
from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector
from jobledger.service.scheduler import tick

PAYLOAD = decode_payload("optimizeImagesJob", OPTIMIZE)
FIRST, LAST = "0001-01-02T00:00:00Z", "9999-12-30T23:59:59.999999Z"
# One step past each end, with the offsets that carry a time off the calendar in UTC.
PAST = {
    "year-1-east": "0001-01-01T00:00:00+14:00",
    "year-9999-west": "9999-12-31T23:59:59-14:00",
    "day-before-first": "0001-01-01T23:59:59.999999Z",
    "day-after-last": "9999-12-31T00:00:00Z",
    "first-in-the-east": "0001-01-02T13:59:59+14:00",
    "last-in-the-west": "9999-12-30T10:00:00-14:00",
}
TOO_BIG = str(MAX_COUNT + 1)


@dataclass(frozen=True)
class Ledger:
    """A ledger with a run in each state a command needs, and a schedule."""

    db: str
    new: str
    running: str
    done: str
    schedule: str


@pytest.fixture
def jobs(sqlite_db: str) -> Ledger:
    with JobLedger(sqlite_db) as opened:
        new = opened.submit("acme", "fresh", PAYLOAD, at=at(0))
        running = opened.submit("acme", "busy", PAYLOAD, at=at(0))
        opened.start(running, "srv1", at=at(1))
        done = opened.submit("acme", "finished", PAYLOAD, at=at(0))
        opened.start(done, "srv1", at=at(1))
        opened.complete(done, at=at(2))
        schedule = opened.submit("acme", "nightly", PAYLOAD, exec_schedule="0 0 3 * * ?", at=at(0))
    return Ledger(sqlite_db, new, running, done, schedule)


# --- CLI: ISO 8601 options -------------------------------------------------------------------------

TIME_OPTIONS: dict[str, Callable[[Ledger, str], list[str]]] = {
    "submit --at": lambda j, t: (
        ["submit", "--company", "acme", "--name", "x", "--type", "metadataPublishJob", "--at", t]
    ),
    "submit --exec-time": lambda j, t: (
        ["submit", "--company", "acme", "--name", "x", "--type", "metadataPublishJob", "--exec-time", t]
    ),
    "start --at": lambda j, t: ["start", j.new, "--server", "s", "--at", t],
    "progress --at": lambda j, t: ["progress", j.running, "--percent", "5", "--at", t],
    "log --at": lambda j, t: ["log", j.running, "--log-type", "UploadSuccess", "--message", "m", "--at", t],
    "complete --at": lambda j, t: ["complete", j.running, "--at", t],
    "stop --at": lambda j, t: ["stop", j.running, "--at", t],
    "delete --at": lambda j, t: ["delete", j.done, "--at", t],
    "pause --at": lambda j, t: ["pause", j.schedule, "--at", t],
    "execute --at": lambda j, t: ["execute", j.schedule, "--at", t],
    "logs --since": lambda j, t: ["logs", "--since", t],
    "logs --until": lambda j, t: ["logs", "--until", t],
    "logs --as-of": lambda j, t: ["logs", "--as-of", t],
    "active --as-of": lambda j, t: ["active", "--as-of", t],
    "details --as-of": lambda j, t: ["details", j.running, "--as-of", t],
    "scheduled --as-of": lambda j, t: ["scheduled", "--as-of", t],
    "show --as-of": lambda j, t: ["show", j.running, "--as-of", t],
    "scheduler tick --at": lambda j, t: ["scheduler", "tick", "--at", t, "--force"],
    "demo --end": lambda j, t: ["demo", "--end", t, "--db", j.db + ".demo"],
}


@pytest.mark.parametrize("past", sorted(PAST))
@pytest.mark.parametrize("option", sorted(TIME_OPTIONS))
def test_a_time_option_past_either_end_is_a_usage_error(jobs: Ledger, option: str, past: str) -> None:
    before = event_count(jobs.db)

    result = run(jobs.db, *TIME_OPTIONS[option](jobs, PAST[past]))

    assert_one_line_error(result, 2, option.split()[-1], "out of range", FIRST[:10], LAST[:10])
    assert event_count(jobs.db) == before


@pytest.mark.parametrize("end", [FIRST, LAST, "0001-01-02T14:00:00+14:00", "9999-12-30T09:59:59-14:00"])
@pytest.mark.parametrize(
    "option", ["logs --since", "logs --until", "logs --as-of", "active --as-of", "scheduled --as-of"]
)
def test_a_read_answers_at_either_end_of_the_range(jobs: Ledger, option: str, end: str) -> None:
    ok(jobs.db, *TIME_OPTIONS[option](jobs, end))


def test_commands_at_either_end_of_the_range_are_recorded_and_every_view_reads(jobs: Ledger) -> None:
    run_at_first = ok(
        jobs.db, "submit", "--company", "acme", "--name", "old", "--type", "metadataPublishJob", "--at", FIRST
    ).strip()
    ok(jobs.db, "start", run_at_first, "--server", "s", "--at", "0001-01-02T14:00:00+14:00")
    ok(jobs.db, "submit", "--company", "acme", "--name", "last", "--type", "metadataPublishJob")
    ok(
        jobs.db,
        "submit",
        "--company",
        "acme",
        "--name",
        "late",
        "--type",
        "metadataPublishJob",
        "--exec-time",
        LAST,
    )
    ok(jobs.db, "scheduler", "tick", "--at", FIRST, "--force")

    for read in (["active"], ["logs"], ["scheduled"], ["details", run_at_first], ["projections", "verify"]):
        ok(jobs.db, *read)
    assert json.loads(ok(jobs.db, "show", run_at_first, "--format", "json"))["startDate"].startswith(
        "0001-01-02T00:00:00"
    )


# --- CLI: times and integers inside JSON -------------------------------------------------------------


def _tasks(**fields: object) -> str:
    return json.dumps([{"taskType": "Optimize", **fields}])


JSON_CASES: dict[str, tuple[Callable[[Ledger, object], list[str]], str]] = {
    "task time": (
        lambda j, v: ["progress", j.running, "--percent", "5", "--tasks", _tasks(lastProgressUpdate=v)],
        "tasks[0].lastProgressUpdate",
    ),
    "task item time": (
        lambda j, v: (
            [
                "progress",
                j.running,
                "--percent",
                "5",
                "--tasks",
                _tasks(taskItemProgressArray=[{"itemName": "a", "lastProgressUpdate": v}]),
            ]
        ),
        "tasks[0].taskItemProgressArray[0].lastProgressUpdate",
    ),
    "aux time": (
        lambda j, v: (
            [
                "log",
                j.running,
                "--log-type",
                "UploadWarning",
                "--message",
                "m",
                "--aux",
                json.dumps([{"logMessage": "m", "logType": "UploadWarning", "dateCreated": v}]),
            ]
        ),
        "aux[0].dateCreated",
    ),
}


@pytest.mark.parametrize("past", sorted(PAST))
@pytest.mark.parametrize("case", sorted(JSON_CASES))
def test_a_time_inside_json_past_either_end_is_refused_naming_its_path(
    jobs: Ledger, case: str, past: str
) -> None:
    args, path = JSON_CASES[case]
    before = event_count(jobs.db)

    result = run(jobs.db, *args(jobs, PAST[past]))

    assert_one_line_error(result, 1, path, "out of range")
    assert event_count(jobs.db) == before


@pytest.mark.parametrize("end", [FIRST, LAST, "0001-01-02T14:00:00+14:00", "9999-12-30T09:59:59-14:00"])
@pytest.mark.parametrize("case", sorted(JSON_CASES))
def test_a_time_inside_json_at_either_end_is_recorded_and_renders(jobs: Ledger, case: str, end: str) -> None:
    before = event_count(jobs.db)

    ok(jobs.db, *JSON_CASES[case][0](jobs, end))

    assert event_count(jobs.db) == before + 1
    for read in (
        ["active", "--wide"],
        ["details", jobs.running, "--format", "json"],
        ["projections", "verify"],
    ):
        ok(jobs.db, *read)


INT_JSON: dict[str, Callable[[Ledger, int], list[str]]] = {
    "task count": lambda j, n: ["progress", j.running, "--percent", "5", "--tasks", _tasks(numPending=n)],
    "item count": lambda j, n: ["progress", j.running, "--percent", "5", "--tasks", _tasks(numProcessed=n)],
    "counter": lambda j, n: ["complete", j.running, "--counters", json.dumps({"totalFileCount": n})],
}


@pytest.mark.parametrize("value", [MAX_COUNT + 1, 2**64, 10**30, -1, -(2**64)])
@pytest.mark.parametrize("case", sorted(INT_JSON))
def test_an_integer_inside_json_outside_its_range_is_refused(jobs: Ledger, case: str, value: int) -> None:
    before = event_count(jobs.db)

    assert_one_line_error(run(jobs.db, *INT_JSON[case](jobs, value)), 1, "expected int")
    assert event_count(jobs.db) == before


@pytest.mark.parametrize("case", sorted(INT_JSON))
def test_an_integer_inside_json_at_its_largest_is_recorded_and_renders(jobs: Ledger, case: str) -> None:
    ok(jobs.db, *INT_JSON[case](jobs, MAX_COUNT))

    for read in (["active", "--format", "json"], ["logs"], ["show", jobs.running], ["projections", "verify"]):
        ok(jobs.db, *read)


# --- CLI: integer and seconds options ---------------------------------------------------------------

# option -> (arguments with N for the value, the largest value, its last fragment on the error line)
INT_OPTIONS: dict[str, tuple[Callable[[Ledger, str], list[str]], int]] = {
    "logs --limit": (lambda j, n: ["logs", "--limit", n], MAX_COUNT),
    "active --limit": (lambda j, n: ["active", "--limit", n], MAX_COUNT),
    "scheduled --limit": (lambda j, n: ["scheduled", "--limit", n], MAX_COUNT),
    "asset-logs --limit": (
        lambda j, n: ["asset-logs", "acme|a", "--company", "acme", "--limit", n],
        MAX_COUNT,
    ),
    "details --limit": (lambda j, n: ["details", j.running, "--limit", n], MAX_COUNT),
    "details --page": (lambda j, n: ["details", j.running, "--page", n], MAX_PAGE),
    "events --after": (lambda j, n: ["events", "--after", n], MAX_COUNT),
    "events --limit": (lambda j, n: ["events", "--limit", n], MAX_COUNT),
    "history --limit": (lambda j, n: ["history", j.running, "--limit", n], MAX_COUNT),
    "export --after": (lambda j, n: ["export", "--after", n], MAX_COUNT),
    "start --total-size": (lambda j, n: ["start", j.new, "--server", "s", "--total-size", n], MAX_COUNT),
}


@pytest.mark.parametrize("option", sorted(INT_OPTIONS))
def test_an_integer_option_at_its_largest_is_accepted(jobs: Ledger, option: str) -> None:
    args, largest = INT_OPTIONS[option]

    ok(jobs.db, *args(jobs, str(largest)))


@pytest.mark.parametrize("value", ["+1", str(2**64), str(10**40)])
@pytest.mark.parametrize("option", sorted(INT_OPTIONS))
def test_an_integer_option_past_its_largest_is_a_usage_error(jobs: Ledger, option: str, value: str) -> None:
    args, largest = INT_OPTIONS[option]
    before = event_count(jobs.db)

    result = run(jobs.db, *args(jobs, str(largest + 1) if value == "+1" else value))

    assert_one_line_error(result, 2, option.split()[-1], f"<={largest}")
    assert event_count(jobs.db) == before


@pytest.mark.parametrize(
    "args",
    [
        ["show", "{running}", "--version", TOO_BIG],
        ["demo", "--jobs", TOO_BIG, "--db", "{db}.demo"],
        ["wait", "{running}", "--timeout", "1e300"],
        ["wait", "{running}", "--timeout", "nan"],
        ["wait", "{running}", "--interval", "inf"],
        ["scheduler", "run", "--interval", "1e300"],
        ["projections", "run", "--interval", "nan"],
    ],
    ids=lambda args: " ".join(args[:3]),
)
def test_a_count_or_seconds_option_past_its_range_is_a_usage_error(jobs: Ledger, args: list[str]) -> None:
    filled = [arg.format(running=jobs.running, db=jobs.db) for arg in args]

    assert_one_line_error(run(jobs.db, *filled), 2, args[2] if args[0] != "show" else "--version")


def test_a_percent_past_64_bits_is_refused_as_a_rule(jobs: Ledger) -> None:
    before = event_count(jobs.db)

    result = run(jobs.db, "progress", jobs.running, "--percent", str(2**64))

    assert_one_line_error(result, 1, "invalid percent", "out of range (0 to 100)")
    assert event_count(jobs.db) == before


# --- Python API -------------------------------------------------------------------------------------

EAST, WEST = timezone(timedelta(hours=14)), timezone(timedelta(hours=-14))
PAST_TIMES = [
    datetime(1, 1, 1, tzinfo=EAST),
    datetime(9999, 12, 31, 23, 59, 59, tzinfo=WEST),
    EARLIEST - timedelta(microseconds=1),
    LATEST + timedelta(microseconds=1),
    datetime(1, 1, 1),  # no zone: UTC
    "9999-12-31T00:00:00Z",
]

ApiCall = Callable[[JobLedger, str, object], object]
API_TIMES: dict[str, tuple[ApiCall, str]] = {
    "submit at": (lambda lg, h, t: lg.submit("acme", "x", PAYLOAD, at=t), "at"),  # type: ignore[arg-type]
    "submit exec_time": (lambda lg, h, t: lg.submit("acme", "x", PAYLOAD, exec_time=t), "exec_time"),  # type: ignore[arg-type]
    "update_progress at": (lambda lg, h, t: lg.update_progress(h, 5, at=t), "at"),  # type: ignore[arg-type]
    "task time": (
        lambda lg, h, t: lg.update_progress(h, 5, tasks=[TaskProgress(taskType="t", lastProgressUpdate=t)]),  # type: ignore[arg-type]
        "tasks[0].lastProgressUpdate",
    ),
    "task item time": (
        lambda lg, h, t: lg.update_progress(
            h,
            5,
            tasks=[
                TaskProgress(
                    taskType="t", taskItemProgressArray=[TaskItemProgress(itemName="i", lastProgressUpdate=t)]
                )
            ],  # type: ignore[arg-type]
        ),
        "tasks[0].taskItemProgressArray[0].lastProgressUpdate",
    ),
    "aux time": (
        lambda lg, h, t: lg.log_detail(
            h,
            "UploadWarning",
            "m",
            aux=[JobLogDetailAux(logMessage="m", logType="UploadWarning", dateCreated=t)],  # type: ignore[arg-type]
        ),
        "aux[0].dateCreated",
    ),
    "complete at": (lambda lg, h, t: lg.complete(h, at=t), "at"),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("past", PAST_TIMES, ids=str)
@pytest.mark.parametrize("call", sorted(API_TIMES))
def test_the_api_refuses_a_time_past_either_end_naming_the_argument(db: str, call: str, past: object) -> None:
    function, field = API_TIMES[call]
    with JobLedger(db, max_clock_skew=None) as ledger:
        handle = ledger.submit("acme", "run", PAYLOAD, at=at(0))
        ledger.start(handle, "s", at=at(1))
        before = ledger.event_count()

        with pytest.raises(
            OutOfRangeError, match=r"out of range \(0001-01-02T00:00:00Z to 9999-12-30"
        ) as caught:
            function(ledger, handle, past)

        assert caught.value.field == field
        assert ledger.event_count() == before


@pytest.mark.parametrize(
    ("call", "field", "message"),
    [
        (lambda lg, h: lg.update_progress(h, 2**64), "percent", "out of range (0 to 100)"),
        (lambda lg, h: lg.update_progress(h, -(2**64)), "percent", "out of range (0 to 100)"),
        (lambda lg, h: lg.start(h, "s", total_size=2**64), "total_size", f"(0 to {MAX_COUNT})"),
        (lambda lg, h: lg.start(h, "s", total_size=-(2**63) - 1), "total_size", f"(0 to {MAX_COUNT})"),
        (
            lambda lg, h: lg.update_progress(h, 5, tasks=[TaskProgress(taskType="t", numPending=2**64)]),
            "tasks[0].numPending",
            f"<= {MAX_COUNT}",
        ),
        (
            lambda lg, h: lg.complete(h, counters=Counters(fileErrorCount=10**30)),
            "counters.fileErrorCount",
            "<=",
        ),
    ],
    ids=["percent", "negative-percent", "total-size", "negative-total-size", "task-count", "counter"],
)
def test_the_api_refuses_an_integer_past_64_bits_naming_the_argument(
    db: str, call: Callable[[JobLedger, str], object], field: str, message: str
) -> None:
    with JobLedger(db) as ledger:
        handle = ledger.submit("acme", "run", PAYLOAD, at=at(0))
        if field != "total_size":
            ledger.start(handle, "s", at=at(1))
        before = ledger.event_count()

        with pytest.raises(OutOfRangeError) as caught:
            call(ledger, handle)

        assert caught.value.field == field
        assert message in str(caught.value)
        assert isinstance(caught.value.__cause__, OverflowError)
        assert ledger.event_count() == before


def test_the_api_accepts_both_ends_and_every_view_reads(db: str, tmp_path: Path) -> None:
    with JobLedger(db, max_clock_skew=None) as ledger:
        old = ledger.submit("acme", "old", PAYLOAD, at=EARLIEST)
        ledger.start(old, "s", total_size=MAX_COUNT, at=EARLIEST.astimezone(EAST))
        ledger.update_progress(old, 1, at=EARLIEST + timedelta(seconds=1))
        ledger.update_progress(old, 2, at=LATEST.astimezone(WEST))  # an ETA past the calendar: none
        ledger.log_detail(old, "UploadSuccess", "m", at=LATEST)
        ledger.submit(
            "acme", "every", PAYLOAD, exec_schedule="0 0 23 * * ?", time_zone="Etc/GMT+12", at=EARLIEST
        )
        projector = open_projector(ledger, str(tmp_path / "views.db"))
        fired = tick(ledger, projector, at=LATEST, force=True)
        projector.catch_up()

        assert fired and projector.verify() == []
        assert ledger.get(old).version == 5
        with pytest.raises(OutOfRangeError, match="invalid at"):
            tick(ledger, projector, at=LATEST + timedelta(days=1), force=True)
    if not db.startswith("postgres"):
        for read in (["active"], ["logs"], ["scheduled"], ["details", old], ["history", old]):
            result = run(db, *read)
            assert result.exit_code == 0, explain(result)


def test_a_huge_clock_skew_tolerance_accepts_any_time_in_range(db: str) -> None:
    with JobLedger(db, max_clock_skew=timedelta.max) as ledger:
        handle = ledger.submit("acme", "far", PAYLOAD, at=LATEST)

        assert ledger.get(handle).submitDate == LATEST
        assert datetime.now(UTC) < LATEST


@pytest.mark.parametrize("end", ["0001-01-03T00:00:00Z", "9999-11-29T23:59:59Z"])
def test_the_demo_fills_a_day_at_either_end_of_its_range(tmp_path: Path, end: str) -> None:
    db = str(tmp_path / "demo.db")

    ok(db, "demo", "--end", end, "--jobs", "20")

    for read in (["active"], ["logs"], ["scheduled"], ["projections", "verify"]):
        ok(db, *read)


@pytest.mark.parametrize("end", ["0001-01-02T23:59:59Z", "9999-11-30T00:00:00Z", "9999-11-29T23:59:59-14:00"])
def test_a_demo_day_ending_past_its_range_is_a_usage_error(tmp_path: Path, end: str) -> None:
    db = tmp_path / "demo.db"

    result = run(str(db), "demo", "--end", end, "--jobs", "20")

    assert_one_line_error(result, 2, "--end", "out of range", "0001-01-03T00:00:00Z", "9999-11-29T23:59:59Z")
    assert not db.exists()
