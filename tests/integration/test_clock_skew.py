"""Clock skew (issue 11, A3): a time further ahead of the ledger's clock than its tolerance is refused,
so one runner with a wrong clock cannot hold a run or a schedule for everyone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cli_checks import assert_one_line_error
from cli_support import event_count, ok, run
from click.testing import CliRunner
from samples import OPTIMIZE

from jobledger.cli.main import cli
from jobledger.domain.commands import Start, Submit
from jobledger.domain.errors import ClockSkewError, RuleError
from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import DEFAULT_MAX_CLOCK_SKEW, JobLedger

PAYLOAD = decode_payload("optimizeImagesJob", OPTIMIZE)


def _from_now(**delta: float) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


def test_the_default_tolerance_is_five_minutes() -> None:
    assert timedelta(minutes=5) == DEFAULT_MAX_CLOCK_SKEW


def test_a_time_beyond_the_tolerance_is_refused_and_nothing_is_appended(ledger: JobLedger) -> None:
    handle = ledger.submit("acme", "nightly", PAYLOAD)
    before = ledger.event_count()

    with pytest.raises(ClockSkewError, match=r"after the ledger's clock .*at most 300 s ahead is accepted$"):
        ledger.start(handle, "srv1", at=_from_now(minutes=10))

    assert ledger.event_count() == before
    assert ledger.get(handle).state == "New"


def test_a_time_within_the_tolerance_is_accepted(ledger: JobLedger) -> None:
    handle = ledger.submit("acme", "nightly", PAYLOAD)

    job = ledger.start(handle, "srv1", at=_from_now(minutes=4))

    assert job.state == "Running"


def test_a_future_submit_and_a_future_command_in_a_batch_are_refused(ledger: JobLedger) -> None:
    with pytest.raises(ClockSkewError):
        ledger.submit("acme", "nightly", PAYLOAD, at=_from_now(days=30))
    handle = ledger.submit("acme", "nightly", PAYLOAD)

    with pytest.raises(ClockSkewError, match=r"^command 2 \(Start\): time "):
        ledger.record(
            [
                Submit(company="acme", name="other", payload=PAYLOAD),
                Start(handle=handle, server="s", at=_from_now(hours=1)),
            ]
        )

    assert ledger.event_count() == 1


def test_an_iso_string_in_the_future_is_refused_like_a_datetime(ledger: JobLedger) -> None:
    handle = ledger.submit("acme", "nightly", PAYLOAD)

    with pytest.raises(ClockSkewError):
        ledger.start(handle, "srv1", at=_from_now(hours=2).isoformat())


def test_the_tolerance_is_a_keyword_of_the_ledger(sqlite_db: str) -> None:
    with JobLedger(sqlite_db, max_clock_skew=timedelta(hours=1)) as ledger:
        handle = ledger.submit("acme", "nightly", PAYLOAD, at=_from_now(minutes=30))
        with pytest.raises(ClockSkewError, match="at most 3,600 s ahead"):
            ledger.start(handle, "srv1", at=_from_now(minutes=90))
    with JobLedger(sqlite_db, max_clock_skew=None) as anything:
        assert anything.start(handle, "srv1", at=_from_now(days=365)).state == "Running"


def test_the_old_rule_still_holds_no_event_before_the_last_one(ledger: JobLedger) -> None:
    handle = ledger.submit("acme", "nightly", PAYLOAD, at=_from_now(minutes=3))

    with pytest.raises(RuleError, match="is before the last event"):
        ledger.start(handle, "srv1", at=_from_now(minutes=-1))


# --- the CLI -----------------------------------------------------------------------------------


def test_the_cli_refuses_a_future_at_in_one_line(sqlite_db: str) -> None:
    handle = ok(sqlite_db, "submit", "--company", "acme", "--name", "n", "--type", "optimizeImagesJob",
                "--payload", OPTIMIZE).strip()  # fmt: skip

    result = run(sqlite_db, "start", handle, "--server", "s", "--at", _from_now(hours=3).isoformat())

    assert_one_line_error(
        result, 1, "after the ledger's clock", "at most 300 s ahead", "JOBLEDGER_MAX_CLOCK_SKEW"
    )
    assert "--force" not in result.output  # only `scheduler tick` has it
    assert event_count(sqlite_db) == 1


def test_jobledger_max_clock_skew_sets_the_cli_tolerance_in_seconds(sqlite_db: str) -> None:
    handle = ok(sqlite_db, "submit", "--company", "acme", "--name", "n", "--type", "optimizeImagesJob",
                "--payload", OPTIMIZE).strip()  # fmt: skip
    later = _from_now(hours=3).isoformat()
    env = {"JOBLEDGER_DB": None, "JOBLEDGER_MAX_CLOCK_SKEW": "14400"}

    result = CliRunner().invoke(
        cli, ["--db", sqlite_db, "start", handle, "--server", "s", "--at", later], env=env
    )

    assert result.exit_code == 0, result.output
    assert event_count(sqlite_db) == 2


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_a_bad_jobledger_max_clock_skew_is_a_usage_error(sqlite_db: str, value: str) -> None:
    env = {"JOBLEDGER_DB": None, "JOBLEDGER_MAX_CLOCK_SKEW": value}
    args = ["--db", sqlite_db, "submit", "--company", "acme", "--name", "n", "--type", "optimizeImagesJob",
            "--payload", OPTIMIZE]  # fmt: skip

    result = CliRunner().invoke(cli, args, env=env)

    assert_one_line_error(result, 2, "JOBLEDGER_MAX_CLOCK_SKEW must be a number of seconds")


def test_a_scheduler_tick_in_the_future_is_refused_unless_forced(sqlite_db: str) -> None:
    fire = _from_now(hours=1).replace(microsecond=0)
    ok(sqlite_db, "submit", "--company", "acme", "--name", "once", "--type", "optimizeImagesJob",
       "--payload", OPTIMIZE, "--exec-time", fire.isoformat())  # fmt: skip
    before = event_count(sqlite_db)
    later = (fire + timedelta(minutes=1)).isoformat()

    assert_one_line_error(
        run(sqlite_db, "scheduler", "tick", "--at", later), 1, "after the ledger's clock", "or give --force"
    )
    assert event_count(sqlite_db) == before

    forced = ok(sqlite_db, "scheduler", "tick", "--at", later, "--force")

    assert forced.strip().startswith("acme||once_")
    assert event_count(sqlite_db) > before


def test_a_tick_now_needs_no_force(sqlite_db: str) -> None:
    ok(sqlite_db, "submit", "--company", "acme", "--name", "once", "--type", "optimizeImagesJob",
       "--payload", OPTIMIZE, "--exec-time", _from_now(seconds=1).isoformat())  # fmt: skip

    assert ok(sqlite_db, "scheduler", "tick", "--at", _from_now(minutes=2).isoformat()).startswith(
        "acme||once_"
    )


def test_the_demo_may_end_in_the_future(tmp_path: object) -> None:
    db = f"{tmp_path}/demo.db"

    ok(db, "demo", "--jobs", "5", "--end", _from_now(days=2).isoformat())

    assert event_count(db) > 5
