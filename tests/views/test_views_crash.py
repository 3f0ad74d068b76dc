"""A catch-up process killed with SIGKILL half way loses nothing and duplicates nothing."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from views_support import JOBLEDGER, PYTHON, busy_ledger, child_env

from jobledger.projections.views import VIEWS
from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector

JOBS = 1060  # about 30,000 events

# A catch-up through the library, in small batches so that there are many commits to land between.
CATCH_UP = """
import sys
from jobledger.service.ledger import JobLedger
from jobledger.projections import runner
from jobledger.service.opening import open_projector
runner.BATCH_SIZE = int(sys.argv[2])
open_projector(JobLedger(sys.argv[1], create=False)).catch_up()
"""


@pytest.fixture(scope="module")
def busy_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A ledger file of about 30,000 events with no views yet, built once, and its head."""
    path = tmp_path_factory.mktemp("crash") / "template.db"
    ledger = JobLedger(str(path))
    head = busy_ledger(ledger, JOBS)
    ledger.close()
    return path, head


@pytest.fixture
def busy_file(busy_template: tuple[Path, int], tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A copy of the busy ledger for one test to catch up, kill and repair."""
    template, head = busy_template
    path = tmp_path / "ledger.db"
    shutil.copyfile(template, path)
    yield str(path), head


def position_of(path: str, view: str = "job_logs") -> int:
    """The view's position as stored, read without catching anything up (0 before it exists)."""
    conn = sqlite3.connect(path, timeout=30)
    try:
        row = conn.execute("SELECT position FROM view_positions WHERE view = ?", (view,)).fetchone()
    except sqlite3.OperationalError:  # the table is not created yet
        return 0
    finally:
        conn.close()
    return int(row[0]) if row else 0


def kill_mid_way(command: list[str], path: str, head: int) -> int:
    """Start a catch-up, SIGKILL it once its position is past 0 and short of the head; return it."""
    process = subprocess.Popen(command, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if 0 < position_of(path) < head:
                break
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
        process.stdout.close()  # type: ignore[union-attr]
        process.stderr.close()  # type: ignore[union-attr]
    assert process.returncode == -signal.SIGKILL, "the catch-up finished before it could be killed"
    return position_of(path)


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(lambda path: [PYTHON, "-c", CATCH_UP, path, "300"], id="library-catch-up"),
        pytest.param(lambda path: [JOBLEDGER, "--db", path, "projections", "catch-up"], id="cli-catch-up"),
    ],
)
def test_a_catch_up_killed_mid_way_is_finished_by_the_next_one_and_equals_a_rebuild(
    busy_file: tuple[str, int], command: object
) -> None:
    path, head = busy_file

    stopped_at = kill_mid_way(command(path), path, head)  # type: ignore[operator]

    assert 0 < stopped_at < head
    ledger = JobLedger(path, create=False)
    projector = open_projector(ledger)
    try:
        assert projector.catch_up() == head - stopped_at
        assert projector.db.positions(VIEWS) == dict.fromkeys(VIEWS, head)
        assert projector.verify() == []
    finally:
        projector.db.close()
        ledger.close()


def test_a_catch_up_killed_twice_and_restarted_as_a_process_ends_at_the_head(
    busy_file: tuple[str, int],
) -> None:
    path, head = busy_file
    command = [PYTHON, "-c", CATCH_UP, path, "300"]

    first = kill_mid_way(command, path, head)
    second = kill_mid_way(command, path, head)
    finished = subprocess.run(
        command, env=child_env(), capture_output=True, text=True, timeout=120, check=False
    )

    assert 0 < first <= second < head
    assert finished.returncode == 0, finished.stderr
    assert finished.stderr == ""
    ledger = JobLedger(path, create=False)
    projector = open_projector(ledger)
    try:
        assert projector.catch_up() == 0
        assert projector.db.positions(VIEWS) == dict.fromkeys(VIEWS, head)
        assert projector.verify() == []
    finally:
        projector.db.close()
        ledger.close()
