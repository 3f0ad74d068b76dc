"""Two schedulers ticking the same ledger at once create exactly one run per fire time.

On SQLite both processes share the ledger file (and its views); on PostgreSQL each process keeps its
own views file, caught up from the shared store, as a reader on another machine would.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from schedule_support import T0, fire_times, iso, jobledger_command, optimize, subprocess_env

from jobledger.domain.schedule import Schedule
from jobledger.domain.schedule_events import Fired
from jobledger.service.ledger import JobLedger

WORKER = str(Path(__file__).with_name("schedule_worker.py"))
RULES = [
    ("0 0 * * * ?", "UTC"),
    ("0 */20 * * * ?", "Europe/Berlin"),
    ("0 30 * * * ?", "America/New_York"),
    ("0 */15 * * * ?", "Asia/Kolkata"),
    ("*/10 * * * *", "Australia/Sydney"),
    ("0 0 */2 * * ?", "UTC"),
]
SCHEDULES = [(f"S{i}", *RULES[i % len(RULES)]) for i in range(12)]


@pytest.fixture
def store(db: str) -> str:
    """The --db of a fresh store (tests/conftest.py's db): an SQLite file, or a PostgreSQL schema."""
    return db


def views_for(store: str, tmp_path: Path, process: int) -> list[str]:
    """The --views option of one process: none on SQLite, a file of its own on PostgreSQL."""
    return [] if not store.startswith("postgresql") else ["--views", str(tmp_path / f"views{process}.db")]


def populate(store: str) -> None:
    ledger = JobLedger(store)
    try:
        for name, rule, zone in SCHEDULES:
            ledger.submit("acme", name, optimize(), exec_schedule=rule, time_zone=zone, at=T0)
    finally:
        ledger.close()


def firings(store: str) -> dict[str, list[Fired]]:
    """Each schedule's Fired events, checking each run names its schedule."""
    ledger = JobLedger(store)
    try:
        found = {}
        for name, _, _ in SCHEDULES:
            handle = f"acme|{name}|"
            assert isinstance(ledger.get(handle), Schedule)
            fired = [e for e in ledger.history(handle) if isinstance(e, Fired)]
            for event in fired:
                assert ledger.get_job(event.runHandle).scheduleHandle == handle
            found[name] = fired
        return found
    finally:
        ledger.close()


def expected_triggers(rule: str, zone: str, ticks: list[datetime]) -> list[datetime]:
    """The trigger times of the runs that ticking at `ticks` fires (the collapse policy)."""
    triggers: list[datetime] = []
    following = next(fire_times(rule, zone, T0, T0 + timedelta(days=2)))
    for moment in ticks:
        if moment >= following:
            triggers.append(following)
            following = next(fire_times(rule, zone, moment, moment + timedelta(days=2)))
    return triggers


def check(store: str, ticks: list[datetime], printed: list[str]) -> None:
    found = firings(store)
    for name, rule, zone in SCHEDULES:
        assert [e.fireTime for e in found[name]] == expected_triggers(rule, zone, ticks), name
    runs = {e.runHandle for fired in found.values() for e in fired}
    assert len(runs) == sum(len(fired) for fired in found.values())
    assert set(printed) == runs


def test_two_cli_schedulers_ticking_at_once_create_one_run_per_fire_time(store: str, tmp_path: Path) -> None:
    populate(store)
    ticks = [T0 + timedelta(minutes=m) for m in (30, 60, 95, 180)]
    printed: list[str] = []
    for moment in ticks:
        processes = [
            subprocess.Popen(
                [
                    *jobledger_command(),
                    "--db",
                    store,
                    *views_for(store, tmp_path, n),
                    "scheduler",
                    "tick",
                    "--at",
                    iso(moment),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=subprocess_env(),
            )
            for n in (1, 2)
        ]
        for process, out, err in [(p, *p.communicate(timeout=60)) for p in processes]:
            assert process.returncode == 0, err
            assert err == "", err  # in particular no "database is locked"
            printed += out.split()
    check(store, ticks, printed)


def _start_workers(store: str, tmp_path: Path, times: list[datetime]) -> list[subprocess.Popen[str]]:
    env = subprocess_env()
    processes = []
    for n in (1, 2):
        views = views_for(store, tmp_path, n)
        env_n = {**env, "WORKER_READY": str(tmp_path / f"ready{n}"), "WORKER_GO": str(tmp_path / "go")}
        processes.append(
            subprocess.Popen(
                [sys.executable, WORKER, store, views[1] if views else "-", *(t.isoformat() for t in times)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env_n,
            )
        )
    deadline = time.monotonic() + 30
    while not all((tmp_path / f"ready{n}").exists() for n in (1, 2)):
        assert time.monotonic() < deadline, "the scheduler processes did not start"
        assert all(p.poll() is None for p in processes), [p.communicate() for p in processes]
        time.sleep(0.01)
    (tmp_path / "go").touch()
    return processes


def test_two_scheduler_processes_looping_ticks_create_one_run_per_fire_time(
    store: str, tmp_path: Path
) -> None:
    populate(store)
    ticks = [T0 + timedelta(minutes=5 * m) for m in range(1, 49)]  # every five minutes for four hours
    outcomes = [(p, *p.communicate(timeout=120)) for p in _start_workers(store, tmp_path, ticks)]
    printed: list[str] = []
    for process, out, err in outcomes:
        assert process.returncode == 0, err
        assert err == "", err
        printed += out.split()
    check(store, ticks, printed)


def test_a_scheduler_that_lost_the_race_to_fire_reports_no_run_of_its_own(sqlite_db: str) -> None:
    """Two schedulers read the schedule as due; the other one appends first.

    The loser must not print the winner's run as one it created (each run is reported by
    exactly one scheduler). The race is made deterministic by letting the winner fire right after the
    loser has read the schedule.
    """
    path = sqlite_db
    winner = JobLedger(path)
    loser = JobLedger(path)
    try:
        handle = winner.submit("acme", "Raced", optimize(), exec_schedule="0 0 * * * ?", at=T0)
        original_get = loser.events.get
        reads = 0

        def read_then_let_the_winner_fire(*args: object, **kwargs: object) -> object:
            nonlocal reads
            events = list(original_get(*args, **kwargs))  # type: ignore[arg-type]
            reads += 1
            if reads == 1:  # the loser has read the schedule as due; the winner appends first
                winner.fire(handle, at=T0 + timedelta(hours=1))
            return iter(events)

        loser.events.get = read_then_let_the_winner_fire  # type: ignore[method-assign]
        assert loser.fire(handle, at=T0 + timedelta(hours=1)) is None
        assert len([e for e in winner.history(handle) if isinstance(e, Fired)]) == 1
    finally:
        loser.close()
        winner.close()


def test_a_scheduler_behind_by_two_fire_times_does_not_fail_when_the_other_fires_meanwhile(
    sqlite_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scheduler B last fired the 01:00 run itself (so it remembers the schedule as due at 02:00);
    scheduler A then fired 02:00. When B ticks at 03:00 its remembered state is stale, so it reads the
    schedule again, and A fires 03:00 right after that read. Losing a race twice is still only losing
    it: B must create nothing and report nothing, not fail with ConcurrencyError.
    """
    path = sqlite_db
    a, b = JobLedger(path), JobLedger(path)
    try:
        handle = a.submit("acme", "Hourly", optimize(), exec_schedule="0 0 * * * ?", at=T0)
        assert b.fire(handle, at=T0 + timedelta(hours=1)) is not None
        assert a.fire(handle, at=T0 + timedelta(hours=2)) is not None

        reads = 0
        original_get = b.events.get

        def read_then_let_a_fire(*args: object, **kwargs: object) -> object:
            nonlocal reads
            events = list(original_get(*args, **kwargs))  # type: ignore[arg-type]
            reads += 1
            if reads == 1:  # B's fresh read after its stale (cached) attempt conflicted
                a.fire(handle, at=T0 + timedelta(hours=3))
            return iter(events)

        monkeypatch.setattr(b.events, "get", read_then_let_a_fire)
        assert b.fire(handle, at=T0 + timedelta(hours=3)) is None
        fired = [e for e in a.history(handle) if isinstance(e, Fired)]
        assert [e.fireTime for e in fired] == [T0 + timedelta(hours=h) for h in (1, 2, 3)]
    finally:
        a.close()
        b.close()


def test_six_schedulers_starting_at_once_all_succeed_and_fire_each_time_once(
    store: str, tmp_path: Path
) -> None:
    populate(store)
    ticks = [T0 + timedelta(minutes=30), T0 + timedelta(minutes=60)]
    printed: list[str] = []
    for moment in ticks:
        processes = [
            subprocess.Popen(
                [
                    *jobledger_command(),
                    "--db",
                    store,
                    *views_for(store, tmp_path, n),
                    "scheduler",
                    "tick",
                    "--at",
                    iso(moment),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=subprocess_env(),
            )
            for n in range(6)
        ]
        for process, out, err in [(p, *p.communicate(timeout=60)) for p in processes]:
            assert (process.returncode, err) == (0, ""), err
            printed += out.split()
    check(store, ticks, printed)
