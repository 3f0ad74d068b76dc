"""A file system that fills up, for real (a small tmpfs, mounted for the test; CI runs as root):
reads answer from the views as they stand and say so, writes and exports fail in one line naming
the device, nothing partial is left, and the ledger is as it was."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from cli_checks import assert_one_line_error
from cli_support import event_count, ok, run, submit_args
from mount_support import mounted
from samples import OPTIMIZE

from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import JobLedger

PAYLOAD = decode_payload("optimizeImagesJob", OPTIMIZE)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs mounted in tmp_path (unmounted after)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    with mounted(folder, ["-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)]):
        yield folder


def _fill(folder: Path) -> None:
    """Write a file until the file system refuses another byte."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 4096, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:
                pass  # this size no longer fits: try a smaller one
    finally:
        os.close(fd)


def _copy(made: Path, folder: Path) -> Path:
    """The ledger file, its write-ahead log folded in, copied into the folder."""
    with closing(sqlite3.connect(made)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db = folder / "ledger.db"
    shutil.copyfile(made, db)
    return db


@pytest.fixture
def full_ledger(small_disk: Path, tmp_path: Path) -> Iterator[tuple[Path, str, int]]:
    """A ledger in use on the small disk (a runner holds it open, so its -wal and -shm files are
    there), whose views are behind by 200 events, the disk then filled up; its path, a run's
    handle and its event count."""
    made = tmp_path / "made.db"
    with JobLedger(str(made)) as ledger:
        handle = ledger.submit("acme", "First", PAYLOAD)
        ledger.start(handle, "ips-1")
    ok(str(made), "logs")  # the views hold the first run
    with JobLedger(str(made)) as ledger:
        for n in range(50):
            run_handle = ledger.submit("acme", f"Job{n}", PAYLOAD)
            ledger.start(run_handle, "ips-1")
            ledger.log_detail(run_handle, "FileBegin", "x" * 300, asset_name=f"{n}.jpg")
            ledger.complete(run_handle)
    db = _copy(made, small_disk)
    events = event_count(str(made))
    with JobLedger(str(db), create=False) as runner:
        runner.reader.count()  # the runner's connection made the -wal and -shm files
        _fill(small_disk)
        yield db, handle, events


def test_a_ledger_closed_before_the_disk_filled_is_read_as_it_stands(
    small_disk: Path, tmp_path: Path
) -> None:
    made = tmp_path / "made.db"
    with JobLedger(str(made)) as ledger:
        handle = ledger.submit("acme", "First", PAYLOAD)
    db = _copy(made, small_disk)
    _fill(small_disk)  # no room for the -wal and -shm files SQLite makes when it opens a ledger

    logs = run(str(db), "logs")
    assert logs.exit_code == 0, logs.stderr
    assert handle in logs.stdout
    assert logs.stderr == (
        f"the views cannot be written (no space left on the device holding {db});"
        " answering from an in-memory catch-up\n"
    )
    assert ok(str(db), "audit", "verify").startswith("chain intact: 1 events")
    result = run(str(db), *submit_args("More", payload=OPTIMIZE))
    assert_one_line_error(result, 1, f"no space left on the device holding {db}")


@pytest.mark.parametrize(
    "command", [["logs"], ["active"], ["details", "{h}"]], ids=["logs", "active", "details"]
)
def test_a_read_on_a_full_disk_answers_from_the_views_as_they_stand_and_says_so(
    full_ledger: tuple[Path, str, int], command: list[str]
) -> None:
    db, handle, events = full_ledger

    result = run(str(db), *(word.format(h=handle) for word in command))

    assert result.exit_code == 0, result.stderr
    assert handle in result.stdout, "the views as they stood answered"
    (line,) = result.stderr.splitlines()
    assert "could not be brought up to date" in line and f"no space left on the device holding {db}" in line
    assert event_count(str(db)) == events


@pytest.mark.parametrize("command", [["projections", "catch-up"], ["projections", "rebuild"]])
def test_writing_the_views_on_a_full_disk_is_one_line(
    full_ledger: tuple[Path, str, int], command: list[str]
) -> None:
    db, _, events = full_ledger

    assert_one_line_error(run(str(db), *command), 1, f"no space left on the device holding {db}")
    assert event_count(str(db)) == events
    assert ok(str(db), "audit", "verify").startswith("chain intact")


def test_an_append_on_a_full_disk_is_one_line_and_appends_nothing(full_ledger: tuple[Path, str, int]) -> None:
    db, _, events = full_ledger

    result = run(str(db), *submit_args("More", payload=OPTIMIZE))
    assert_one_line_error(result, 1, f"no space left on the device holding {db}")
    assert event_count(str(db)) == events


def test_an_export_onto_a_full_disk_is_one_line_and_leaves_no_partial_file(
    full_ledger: tuple[Path, str, int],
) -> None:
    db, _, events = full_ledger
    target = db.parent / "ledger.ndjson"

    assert_one_line_error(
        run(str(db), "export", "-o", str(target)), 1, "no space left on the device holding it"
    )
    assert not target.exists() and not Path(f"{target}.partial").exists()
    assert event_count(str(db)) == events
