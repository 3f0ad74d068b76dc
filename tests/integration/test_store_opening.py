"""Opening a store that cannot be a ledger, or cannot be written, is one line and changes nothing
(issue 11, A5 and B): `:memory:`, URL schemes other than PostgreSQL's, read commands on a missing
or empty file, read-only files and folders, and `export -o` to a place that cannot be written."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest
from cli_checks import assert_one_line_error
from cli_support import event_count, ok, run, submit, submit_args
from samples import OPTIMIZE

from jobledger.domain.errors import NoLedgerError, StoreError
from jobledger.service.ledger import JobLedger

SUBMIT = submit_args("n", payload=OPTIMIZE)
HANDLE = "acme||n_2026-01-01-09:00:00"

READS: dict[str, list[str]] = {
    "active": ["active"],
    "logs": ["logs"],
    "details": ["details", HANDLE],
    "asset-logs": ["asset-logs", "acme|a", "--company", "acme"],
    "scheduled": ["scheduled"],
    "show": ["show", HANDLE],
    "history": ["history", HANDLE],
    "events": ["events", "--format", "ndjson"],
    "wait": ["wait", HANDLE, "--timeout", "0"],
    "projections-status": ["projections", "status"],
    "projections-catch-up": ["projections", "catch-up"],
    "projections-verify": ["projections", "verify"],
    "audit-digest": ["audit", "digest"],
    "audit-verify": ["audit", "verify"],
    "export": ["export"],
}


# --- :memory: and other stores that are not a file path or a PostgreSQL URL -------------------


@pytest.mark.parametrize("name", [":memory:", "file::memory:?cache=shared", "file:x.db?mode=memory"])
def test_an_in_memory_ledger_is_refused_at_open_by_the_library(name: str) -> None:
    with pytest.raises(
        StoreError, match="an in-memory ledger is not supported; use a file in a temporary folder"
    ):
        JobLedger(name)


@pytest.mark.parametrize("command", [SUBMIT, ["active"]], ids=["submit", "active"])
def test_an_in_memory_ledger_is_refused_in_one_line_by_the_cli(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    assert_one_line_error(run(":memory:", *command), 1, "an in-memory ledger is not supported")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "url",
    ["mysql://root@127.0.0.1/jobs", "sqlite:///jobs.db", "https://example.com/jobs", "postgresq://h/db"],
)
@pytest.mark.parametrize("command", [SUBMIT, ["active"]], ids=["submit", "active"])
def test_a_url_scheme_other_than_postgresql_is_refused_naming_the_scheme(
    url: str, command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    scheme = url.split("://")[0]

    assert_one_line_error(run(url, *command), 1, f"database URL scheme {scheme}:// is not supported")
    assert os.listdir(tmp_path) == []


def test_an_sqlite_uri_is_refused_rather_than_taken_as_a_file_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    assert_one_line_error(run("file:jobs.db?mode=ro", *SUBMIT), 1, "SQLite URIs are not supported")
    assert os.listdir(tmp_path) == []


def test_the_library_takes_a_path_object_and_refuses_what_is_neither_a_path_nor_a_url(tmp_path: Path) -> None:
    ledger = JobLedger(tmp_path / "l.db")
    try:
        assert ledger.db == str(tmp_path / "l.db")
    finally:
        ledger.close()
    for wrong in (42, b"l.db", None):
        with pytest.raises(TypeError, match="db must be a file path or a postgresql:// URL"):
            JobLedger(wrong)  # type: ignore[arg-type]


# --- reads never create a ledger ------------------------------------------------------------------


@pytest.mark.parametrize("command", list(READS))
def test_a_read_of_a_missing_file_says_there_is_no_ledger_and_creates_nothing(
    tmp_path: Path, command: str
) -> None:
    path = tmp_path / "missing.db"

    assert_one_line_error(run(str(path), *READS[command]), 1, f"no ledger at {path}")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("command", list(READS))
def test_a_read_of_an_empty_file_says_there_is_no_ledger_and_leaves_it_empty(
    tmp_path: Path, command: str
) -> None:
    path = tmp_path / "empty.db"
    path.touch()

    assert_one_line_error(run(str(path), *READS[command]), 1, f"no ledger at {path} (the file is empty)")
    assert os.listdir(tmp_path) == ["empty.db"]
    assert path.stat().st_size == 0


def test_a_read_of_an_empty_sqlite_database_does_not_make_it_a_ledger(tmp_path: Path) -> None:
    path = tmp_path / "blank.db"
    sqlite3.connect(path).execute("PRAGMA user_version = 0").connection.close()
    before = path.read_bytes()

    assert_one_line_error(run(str(path), "logs"), 1, "no ledger at", "an empty SQLite database")
    with pytest.raises(NoLedgerError):
        JobLedger(str(path), create=False)
    assert path.read_bytes() == before


def test_a_write_to_an_empty_file_makes_it_a_ledger(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()

    submit(str(path), payload=OPTIMIZE)

    assert event_count(str(path)) == 1


# --- read-only files and folders ------------------------------------------------------------------


def _chattr(flag: str, *paths: Path) -> None:
    subprocess.run(["chattr", flag, *map(str, paths)], check=True, capture_output=True)


@pytest.fixture
def read_only() -> Iterator[Callable[..., None]]:
    """Makes files and folders read-only for real: chmod stops other users, and root (as the tests
    run in CI) only through the immutable attribute (chattr +i), which is undone afterwards."""
    made: list[tuple[Path, int]] = []

    def _make(*paths: Path) -> None:
        for path in paths:
            made.append((path, path.stat().st_mode))
            path.chmod(0o555 if path.is_dir() else 0o444)
            if os.geteuid() == 0:
                _chattr("+i", path)

    try:
        yield _make
    finally:
        for path, mode in reversed(made):
            if os.geteuid() == 0:
                _chattr("-i", path)
            path.chmod(stat.S_IMODE(mode))


@pytest.fixture
def ledger_copy(tmp_path: Path) -> Path:
    """A ledger with one run, in a folder of its own, closed (no -wal or -shm file beside it)."""
    folder = tmp_path / "ledgers"
    folder.mkdir()
    path = folder / "ledger.db"
    submit(str(path), payload=OPTIMIZE)
    assert sorted(os.listdir(folder)) == ["ledger.db"]
    return path


def _is_read_only(path: Path) -> bool:
    try:
        with path.open("ab"):
            return False
    except OSError:
        return True


def test_a_write_to_a_read_only_ledger_file_says_so_and_changes_nothing(
    ledger_copy: Path, read_only: Callable[..., None]
) -> None:
    before = ledger_copy.read_bytes()
    read_only(ledger_copy)
    assert _is_read_only(ledger_copy)

    assert_one_line_error(run(str(ledger_copy), *SUBMIT), 1, f"cannot open ledger {ledger_copy}", "read-only")
    assert ledger_copy.read_bytes() == before


def test_a_ledger_in_a_read_only_folder_is_reported_as_such_not_as_not_a_ledger(
    ledger_copy: Path, read_only: Callable[..., None]
) -> None:
    before = ledger_copy.read_bytes()
    read_only(ledger_copy.parent)

    for command in (SUBMIT, ["active"], ["audit", "verify"]):
        result = run(str(ledger_copy), *command)
        if result.exit_code:  # a read may answer without writing; if not, it says why
            line = assert_one_line_error(result, 1, "read-only")
            assert "not a jobledger database" not in line
    assert ledger_copy.read_bytes() == before
    assert event_count_when_writable(ledger_copy) == 1


def event_count_when_writable(path: Path) -> int:
    """The events of a ledger in a read-only folder, counted from a writable copy."""
    copy = path.parent.parent / "copy.db"
    shutil.copyfile(path, copy)
    return event_count(str(copy))


def test_a_new_ledger_in_a_read_only_folder_is_refused_naming_the_folder(
    tmp_path: Path, read_only: Callable[..., None]
) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    read_only(folder)

    assert_one_line_error(run(str(folder / "l.db"), *SUBMIT), 1, f"folder {folder} is read-only")
    assert os.listdir(folder) == []


def test_reads_of_a_read_only_ledger_file_answer_or_say_why_in_one_line(
    ledger_copy: Path, read_only: Callable[..., None]
) -> None:
    before = ledger_copy.read_bytes()
    read_only(ledger_copy)

    for command in READS.values():
        result = run(str(ledger_copy), *command)
        if result.exit_code not in (0, 3, 124):  # wait's own codes
            assert_one_line_error(result, 1)
    assert ledger_copy.read_bytes() == before


def test_reads_that_need_no_views_answer_from_a_read_only_ledger_file(
    tmp_path: Path, read_only: Callable[..., None]
) -> None:
    db = tmp_path / "l.db"
    handle = submit(str(db), payload=OPTIMIZE)
    digest = ok(str(db), "audit", "digest")
    exported = ok(str(db), "export")
    before = db.read_bytes()
    read_only(db)

    assert ok(str(db), "audit", "digest") == digest
    assert ok(str(db), "audit", "verify").startswith("chain intact: 1 events")
    assert ok(str(db), "export") == exported
    assert handle in ok(str(db), "events", "--format", "ndjson")
    assert handle in ok(str(db), "show", handle, "--format", "json")
    assert "Submitted" in ok(str(db), "history", handle)
    assert_one_line_error(run(str(db), *SUBMIT), 1, "read-only")
    assert db.read_bytes() == before


# --- export -o ------------------------------------------------------------------------------------


def test_export_to_a_folder_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    submit(db, payload=OPTIMIZE)

    result = run(db, "export", "-o", "/nonexistent/x.ndjson")

    assert_one_line_error(result, 1, "cannot write /nonexistent/x.ndjson", "No such file or directory")


def test_export_to_a_full_disk_is_one_line_and_writes_to_the_device_in_place(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    submit(db, payload=OPTIMIZE)

    result = run(db, "export", "-o", "/dev/full")

    assert_one_line_error(result, 1, "cannot write /dev/full", "no space left on the device holding it")
    assert Path("/dev/full").is_char_device()  # not replaced by a file renamed over it


def test_export_to_a_read_only_folder_is_one_line_and_leaves_nothing(
    tmp_path: Path, read_only: Callable[..., None]
) -> None:
    db = str(tmp_path / "l.db")
    submit(db, payload=OPTIMIZE)
    folder = tmp_path / "out"
    folder.mkdir()
    read_only(folder)

    assert_one_line_error(run(db, "export", "-o", str(folder / "x.ndjson")), 1, f"cannot write {folder}")
    assert os.listdir(folder) == []
    assert ok(db, "audit", "verify")


# --- PostgreSQL: reads never create a ledger there either ------------------------------------------


def _schema_exists(url: str) -> bool:
    schema = parse_qs(urlparse(url).query)["schema"][0]
    with psycopg.connect(url.split("?")[0]) as conn:
        row = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    return bool(row and row[0])


@pytest.mark.parametrize(
    "command", ["active", "show", "events", "audit-verify", "export", "projections-status"]
)
def test_a_read_of_a_postgresql_schema_without_a_ledger_creates_nothing(
    postgres_url: str, tmp_path: Path, command: str
) -> None:
    views = str(tmp_path / "views.db")

    result = run(postgres_url, "--views", views, *READS[command])

    line = assert_one_line_error(result, 1, "no ledger at postgresql://")
    assert "@" not in line  # no credentials
    assert not _schema_exists(postgres_url)
    with pytest.raises(NoLedgerError):
        JobLedger(postgres_url, create=False)
    assert not _schema_exists(postgres_url)


def test_the_first_write_to_a_postgresql_schema_creates_the_ledger(postgres_url: str) -> None:
    submit(postgres_url, payload=OPTIMIZE)

    assert _schema_exists(postgres_url)
    assert event_count(postgres_url) == 1


# --- a file system that refuses to grow the ledger ---------------------------------------------------


_LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails (EFBIG)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv.pop(1)), resource.RLIM_INFINITY))
from jobledger.cli.main import cli
cli()
"""


def _run_limited(db: Path, limit: int, *args: str) -> subprocess.CompletedProcess[str]:
    """`jobledger --db DB ARGS` in a process that may not grow a file past `limit` bytes, as a
    full disk would refuse it (RLIMIT_FSIZE holds for root too)."""
    return subprocess.run(
        [sys.executable, "-c", _LIMITED, str(limit), "--db", str(db), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("room", [0, 6_000, 12_000])
def test_a_file_system_that_refuses_to_grow_the_ledger_is_one_line_and_the_ledger_stays_whole(
    tmp_path: Path, room: int
) -> None:
    db = tmp_path / "l.db"
    submit(str(db), payload=OPTIMIZE)
    big = [*SUBMIT[:-2], "--payload", OPTIMIZE, "--description", "x" * 16_000]  # within the limit

    for command in (big, ["logs"]):
        done = _run_limited(db, db.stat().st_size + room, *command)
        if done.returncode:
            assert done.returncode == 1
            assert done.stdout == ""
            assert len(done.stderr.splitlines()) == 1, done.stderr
            assert done.stderr.startswith("Error: cannot "), done.stderr
            assert "not a jobledger database" not in done.stderr

    assert ok(str(db), "audit", "verify").startswith("chain intact")
    assert event_count(str(db)) in (1, 2)


# --- paths that are not a file a ledger could live in ---------------------------------------------


@pytest.mark.parametrize("command", [SUBMIT, ["logs"]], ids=["submit", "logs"])
def test_a_pipe_or_a_device_is_refused_without_reading_it(tmp_path: Path, command: list[str]) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    for path in (str(fifo), "/dev/null"):
        assert_one_line_error(
            run(path, *command), 1, f"{path} is not a jobledger database (not a regular file)"
        )
    assert Path("/dev/null").is_char_device()


def test_a_file_name_too_long_for_the_file_system_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / ("x" * 300)

    for command in (SUBMIT, ["logs"]):
        assert_one_line_error(run(str(path), *command), 1, "cannot use database path", "File name too long")


def test_the_url_scheme_is_case_insensitive(postgres_url: str, tmp_path: Path) -> None:
    upper = "POSTGRESQL" + postgres_url[len("postgresql") :]

    handle = ok(upper, *SUBMIT).strip()

    assert handle in ok(upper, "--views", str(tmp_path / "v.db"), "logs")


def test_a_views_file_name_too_long_for_the_file_system_is_one_line(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    submit(db, payload=OPTIMIZE)

    result = run(db, "--views", str(tmp_path / ("v" * 300)), "logs")

    assert_one_line_error(result, 1, "cannot use the views in", "File name too long")
