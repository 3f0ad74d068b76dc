"""Blue/green rebuilds: queries running meanwhile get complete answers, and nothing appended is lost."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from views_support import (
    OPTIMIZE,
    PYTHON,
    at,
    busy_ledger,
    child_env,
    folded_rows,
    invoke,
    seed_catalogue,
    stored_rows,
)

from jobledger.domain.errors import LedgerError
from jobledger.projections import queries, runner
from jobledger.projections.runner import Projector
from jobledger.projections.views import VIEWS
from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector

# Runs `jobledger projections rebuild` again and again in one process until told to stop.
REBUILD_LOOP = """
import sys, time
from jobledger.cli.main import cli
path, stop_file = sys.argv[1], sys.argv[2]
rebuilt = 0
import os
while not os.path.exists(stop_file) or rebuilt < 3:
    try:
        cli.main(["--db", path, "projections", "rebuild"], standalone_mode=False)
    except SystemExit as exit:
        if exit.code:
            raise
    rebuilt += 1
print("rebuilds", rebuilt)
"""


@pytest.fixture
def busy(job_ledger: JobLedger, projector: Projector) -> Iterator[tuple[JobLedger, Projector]]:
    """A ledger of 100 runs (about 2,800 events) with its views caught up."""
    busy_ledger(job_ledger, 100)
    projector.catch_up()
    yield job_ledger, projector


def start_rebuilding(ledger_file: str) -> tuple[subprocess.Popen[str], str]:
    """A child process running `projections rebuild` again and again; touch the file to stop it."""
    stop_file = f"{ledger_file}.stop"
    child = subprocess.Popen(
        [PYTHON, "-c", REBUILD_LOOP, ledger_file, stop_file],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return child, stop_file


def stop_rebuilding(child: subprocess.Popen[str], stop_file: str) -> int:
    """Ask the child to stop; check it never failed; return how many rebuilds it made."""
    open(stop_file, "w").close()
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    return int(out.split()[-1])


def test_queries_during_repeated_rebuilds_always_get_complete_answers(
    busy: tuple[JobLedger, Projector], ledger_file: str
) -> None:
    _, reader = busy
    runs = len(queries.job_logs(reader.db))
    active = len(queries.active_jobs(reader.db, include_waiting=True))
    some_run = queries.job_logs(reader.db, limit=1)[0]["jobHandle"]
    details = queries.job_log_details(reader.db, some_run)["detailTotalRows"]
    asset_rows = len(queries.asset_job_logs(reader.db, "a|asset3", "c0"))
    rebuilder, stop_file = start_rebuilding(ledger_file)
    answers = 0
    try:
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and rebuilder.poll() is None:
            reader.catch_up()
            assert len(queries.job_logs(reader.db)) == runs
            assert len(queries.job_logs(reader.db, company="c1")) == runs // 3
            assert len(queries.active_jobs(reader.db, include_waiting=True)) == active
            record = queries.job_log_details(reader.db, some_run)
            assert (record["detailTotalRows"], len(record["detailArray"])) == (details, details)
            assert len(queries.asset_job_logs(reader.db, "a|asset3", "c0")) == asset_rows
            answers += 1
    finally:
        rebuilds = stop_rebuilding(rebuilder, stop_file)
    assert rebuilds >= 3
    assert answers >= 20
    assert reader.verify() == []


def test_writes_and_queries_during_repeated_rebuilds_see_every_run_and_break_no_rebuild(
    busy: tuple[JobLedger, Projector], ledger_file: str
) -> None:
    ledger, reader = busy
    runs = len(queries.job_logs(reader.db))
    active = len(queries.active_jobs(reader.db, include_waiting=True))
    rebuilder, stop_file = start_rebuilding(ledger_file)
    submitted = 0
    try:
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and rebuilder.poll() is None:
            # A write just before a query must show in it, rebuild or not.
            ledger.submit("c9", "between-queries", OPTIMIZE, at=at(10**6 + submitted))
            submitted += 1
            reader.catch_up()
            assert len(queries.job_logs(reader.db)) == runs + submitted
            assert len(queries.active_jobs(reader.db, include_waiting=True)) == active + submitted
    finally:
        rebuilds = stop_rebuilding(rebuilder, stop_file)
    assert rebuilds >= 3
    assert submitted >= 20
    assert reader.verify() == []


class _CommitInsideDeferredTransactions:
    """Another connection that commits an append whenever the views connection, inside a deferred
    BEGIN, has started reading: the moment a second process's write can land during a rebuild."""

    def __init__(self, ledger: JobLedger) -> None:
        self.ledger = ledger
        self.deferred = False
        self.reads = 0
        self.commits = 0

    def __call__(self, sql: str) -> None:
        statement = " ".join(sql.split()).upper()
        if statement in ("BEGIN", "BEGIN DEFERRED", "BEGIN TRANSACTION"):
            self.deferred, self.reads = True, 0
        elif statement.startswith(("COMMIT", "ROLLBACK", "END", "BEGIN")):
            self.deferred = False
        elif self.deferred and statement.startswith("SELECT"):
            self.reads += 1
            if self.reads == 2:
                self.commits += 1
                self.ledger.submit("c9", "racing-writer", OPTIMIZE, at=at(10**6 + self.commits))


def test_a_rebuild_does_not_fail_when_another_process_commits_while_it_creates_its_tables(
    projector: Projector, job_ledger: JobLedger, ledger_file: str
) -> None:
    seed_catalogue(job_ledger)
    projector.catch_up()
    writer = JobLedger(ledger_file, create=False)
    try:
        projector.db.conn.set_trace_callback(_CommitInsideDeferredTransactions(writer))

        projector.rebuild()

        projector.db.conn.set_trace_callback(None)
        assert projector.db.positions(VIEWS) == dict.fromkeys(VIEWS, job_ledger.head_position())
        assert stored_rows(projector.db) == folded_rows(projector)
    finally:
        projector.db.conn.set_trace_callback(None)
        writer.close()


def test_two_rebuilds_at_once_leave_correct_views_and_fail_only_with_a_clear_error(
    busy: tuple[JobLedger, Projector], ledger_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ledger, first = busy
    second_ledger = JobLedger(ledger_file, create=False)
    second = open_projector(second_ledger)
    monkeypatch.setattr(runner, "BATCH_SIZE", 500)
    monkeypatch.setattr(runner, "REBUILD_BATCH_SIZE", 500)
    outcomes: list[str] = []

    def rebuild(projector: Projector, progress: object = None) -> None:
        try:
            projector.rebuild(progress=progress)  # type: ignore[arg-type]
            outcomes.append("rebuilt")
        except LedgerError as err:
            outcomes.append(f"refused: {err}")

    def second_rebuild_mid_way(count: int) -> None:
        if not outcomes:
            rebuild(second)

    try:
        rebuild(first, second_rebuild_mid_way)
    finally:
        second.db.close()
        second_ledger.close()

    assert len(outcomes) == 2
    assert "rebuilt" in outcomes
    assert first.catch_up() == 0
    assert stored_rows(first.db) == folded_rows(first)


def test_cli_queries_during_repeated_rebuilds_list_every_run(
    busy: tuple[JobLedger, Projector], ledger_file: str
) -> None:
    _, reader = busy
    runs = len(queries.job_logs(reader.db))
    rebuilder, stop_file = start_rebuilding(ledger_file)
    counts = []
    try:
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            result = invoke("--db", ledger_file, "logs", "--format", "ndjson")
            assert result.exit_code == 0, result.stderr
            counts.append(len(result.stdout.splitlines()))
    finally:
        stop_rebuilding(rebuilder, stop_file)
    assert set(counts) == {runs}
    assert len(counts) >= 5


class _AppendWhileRebuilding:
    """A progress callback that appends new events to the store after each rebuilt batch."""

    def __init__(self, ledger: JobLedger, times: int) -> None:
        self.ledger = ledger
        self.left = times
        self.handles: list[str] = []

    def __call__(self, count: int) -> None:
        if self.left:
            self.left -= 1
            handle = self.ledger.submit("c9", f"late-{self.left}", OPTIMIZE, at=at(10**6 + self.left))
            self.ledger.start(handle, "ips-app-09", at=at(10**6 + self.left + 1))
            self.handles.append(handle)


def test_events_appended_during_a_rebuild_are_in_the_views_it_swaps_in(
    busy: tuple[JobLedger, Projector], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, projector = busy
    monkeypatch.setattr(runner, "BATCH_SIZE", 500)
    monkeypatch.setattr(runner, "REBUILD_BATCH_SIZE", 500)
    appender = _AppendWhileRebuilding(ledger, times=3)

    projector.rebuild(progress=appender)

    head = ledger.head_position()
    assert len(appender.handles) == 3
    assert projector.db.positions(VIEWS) == dict.fromkeys(VIEWS, head)
    assert projector.catch_up() == 0
    live = {r["jobHandle"] for r in queries.active_jobs(projector.db)}
    assert set(appender.handles) <= live
    assert stored_rows(projector.db) == folded_rows(projector)


def test_rebuilding_one_view_restores_it_and_leaves_the_others_alone(
    projector: Projector, job_ledger: JobLedger, ledger_file: str
) -> None:
    seed_catalogue(job_ledger)
    projector.catch_up()
    before = stored_rows(projector.db)
    with sqlite3.connect(ledger_file) as conn:
        conn.execute("UPDATE job_logs SET progress = 99")
        conn.execute("UPDATE active_jobs SET progress = 98")

    projector.rebuild(["job_logs"])

    after = stored_rows(projector.db)
    assert after["job_logs"] == before["job_logs"]
    assert {row[VIEWS["active_jobs"].codec.columns.index("progress")] for row in after["active_jobs"]} == {98}
    assert [d.view for d in projector.verify()] == ["active_jobs"] * len(before["active_jobs"])


def test_a_rebuild_leaves_no_tables_aside_and_keeps_the_indexes(
    projector: Projector, job_ledger: JobLedger
) -> None:
    seed_catalogue(job_ledger)
    projector.catch_up()

    projector.rebuild()
    projector.rebuild()

    tables = {row[0] for row in projector.db.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not {name for name in tables if name.endswith(runner.REBUILD_SUFFIX)}
    positions = {row[0] for row in projector.db.query("SELECT view FROM view_positions")}
    assert positions == set(VIEWS)
    for name, view in VIEWS.items():
        indexed = {
            tuple(column[2] for column in projector.db.query(f"PRAGMA index_info([{index[1]}])"))
            for index in projector.db.query(f"PRAGMA index_list([{name}])")
            if index[3] == "c"
        }
        # PRAGMA index_info names no column for an expression (job_logs' start-or-submit time).
        expected = {tuple(c if c.isidentifier() else None for c in columns) for columns in view.indexes}
        assert expected <= indexed, name


def test_the_queries_use_the_indexes_of_their_views(projector: Projector, job_ledger: JobLedger) -> None:
    seed_catalogue(job_ledger)
    projector.catch_up()

    def plan(sql: str) -> str:
        return " ".join(str(row[-1]) for row in projector.db.query(f"EXPLAIN QUERY PLAN {sql}"))

    assert "USING INDEX" in plan("SELECT * FROM active_jobs WHERE companyHandle = 'c47' AND state != 'New'")
    assert "USING INDEX" in plan("SELECT * FROM job_logs WHERE companyHandle = 'c47' ORDER BY startDate")
    assert "USING INDEX" in plan("SELECT * FROM job_log_details WHERE jobId = 'x' ORDER BY dateCreated")
    assert "USING INDEX" in plan("SELECT * FROM job_log_details WHERE assetHandle = 'a|boot'")


def test_a_rebuild_drops_the_tables_a_killed_rebuild_left_aside(
    projector: Projector, job_ledger: JobLedger
) -> None:
    seed_catalogue(job_ledger)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a process id that no longer runs: the rebuild that used it was killed
    left = f"job_logs__rebuild_0badcafe_p{gone.pid}"
    running = projector.db.aside_name("job_logs")  # this process's: a rebuild still running
    for table in (left, running):
        projector.db.create_table(VIEWS["job_logs"], table, indexes=False)

    projector.rebuild()

    tables = {row[0] for row in projector.db.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    positions = {row[0] for row in projector.db.query("SELECT view FROM view_positions")}
    assert left not in tables and left not in positions
    assert running in tables and running in positions


def test_projections_status_lists_what_a_killed_rebuild_left_and_a_rebuild_drops_it(
    projector: Projector, job_ledger: JobLedger, ledger_file: str
) -> None:
    seed_catalogue(job_ledger)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    left = f"job_logs__rebuild_0badcafe_p{gone.pid}"
    projector.db.create_table(VIEWS["job_logs"], left, indexes=False)

    before = invoke("--db", ledger_file, "projections", "status")
    assert before.exit_code == 0, before.stderr
    assert f"left by a rebuild that no longer runs (the next rebuild drops them): {left}" in before.stdout

    assert invoke("--db", ledger_file, "projections", "rebuild").exit_code == 0
    after = invoke("--db", ledger_file, "projections", "status")
    assert after.exit_code == 0 and left not in after.stdout
