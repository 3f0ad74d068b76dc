"""Every error of issue item 7: one `Error:` line on stderr naming the problem, the right exit code,
no traceback, and nothing appended to the ledger."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_checks import assert_one_line_error
from cli_support import event_count, run
from samples import OPTIMIZE, UPLOAD_DIRECTORY, at

from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import JobLedger


@dataclass(frozen=True)
class Jobs:
    """A ledger holding one job in each interesting state."""

    db: str
    new: str
    running: str
    done: str


@pytest.fixture
def jobs(db: str) -> Jobs:
    payload = decode_payload("optimizeImagesJob", OPTIMIZE)
    ledger = JobLedger(db)
    try:
        new = ledger.submit("acme", "fresh", payload, idempotency_key="req-1", at=at(0))
        running = ledger.submit("acme", "busy", payload, at=at(0))
        ledger.start(running, "srv1", at=at(1))
        done = ledger.submit("acme", "finished", payload, at=at(0))
        ledger.start(done, "srv1", at=at(1))
        ledger.complete(done, at=at(2))
    finally:
        ledger.close()
    return Jobs(db, new, running, done)


def _submit(*extra: str, kind: str = "optimizeImagesJob") -> Callable[[Jobs], list[str]]:
    return lambda _: ["submit", "--company", "acme", "--name", "again", "--type", kind, *extra]


Case = tuple[Callable[[Jobs], list[str]], int, tuple[str, ...]]

CASES: dict[str, Case] = {
    # broken rules
    "complete-a-new-job": (lambda j: ["complete", j.new], 1, ("cannot complete job", "it is New")),
    "start-a-running-job": (
        lambda j: ["start", j.running, "--server", "s"],
        1,
        ("cannot start", "it is Running"),
    ),
    "progress-after-done": (lambda j: ["progress", j.done, "--percent", "50"], 1, ("it is Done",)),
    "log-after-done": (
        lambda j: ["log", j.done, "--log-type", "UploadSuccess", "--message", "m"],
        1,
        ("it is Done",),
    ),
    "stop-a-done-job": (lambda j: ["stop", j.done], 1, ("cannot stop", "it is Done")),
    "progress-over-100": (
        lambda j: ["progress", j.running, "--percent", "101"],
        1,
        ("progress must be between 0 and 100, got 101",),
    ),
    "progress-over-100-on-a-done-job": (
        lambda j: ["progress", j.done, "--percent", "150"],
        1,
        ("progress must be between 0 and 100, got 150",),
    ),
    "token-for-a-company-no-run-could-have": (
        lambda _: ["tokens", "create", "--company", "a|b", "--role", "ReadOnly"],
        1,
        ("company must not contain '|'",),
    ),
    "time-before-the-last-event": (
        lambda j: [
            "log",
            j.running,
            "--log-type",
            "UploadSuccess",
            "--message",
            "m",
            "--at",
            "2025-12-31T00:00:00Z",
        ],
        1,
        ("is before the last event of job",),
    ),
    "unknown-log-type": (
        lambda j: ["log", j.running, "--log-type", "UploadSucces", "--message", "m"],
        1,
        ("unknown log type 'UploadSucces'",),
    ),
    "unknown-asset-type": (
        lambda j: ["log", j.running, "--log-type", "UploadSuccess", "--message", "m", "--asset-type", "Jpeg"],
        1,
        ("unknown asset type 'Jpeg'",),
    ),
    "pipe-in-the-name": (
        lambda _: [
            "submit",
            "--company",
            "acme",
            "--name",
            "a|b",
            "--type",
            "optimizeImagesJob",
            "--payload",
            OPTIMIZE,
        ],
        1,
        ("job name must not contain '|'",),
    ),
    "bad-user-email": (_submit("--payload", OPTIMIZE, "--user-email", "ops"), 1, ("user email 'ops'",)),
    "idempotency-conflict": (
        _submit("--payload", OPTIMIZE, "--idempotency-key", "req-1"),
        1,
        ("idempotency key 'req-1' was used for a different request",),
    ),
    # unknown handles and other companies
    "unknown-handle": (
        lambda _: ["start", "acme||nope", "--server", "s"],
        1,
        ("no job with handle 'acme||nope'",),
    ),
    "unknown-handle-show": (lambda _: ["show", "acme||nope"], 1, ("no job with handle 'acme||nope'",)),
    "unknown-handle-history": (lambda _: ["history", "acme||nope"], 1, ("no job with handle",)),
    "another-company-start": (
        lambda j: ["start", j.new, "--server", "s", "--company", "globex"],
        1,
        ("no job with handle", "for company globex"),
    ),
    "another-company-stop": (
        lambda j: ["stop", j.running, "--company", "globex"],
        1,
        ("for company globex",),
    ),
    "another-company-delete": (
        lambda j: ["delete", j.done, "--company", "globex"],
        1,
        ("for company globex",),
    ),
    "another-company-show": (lambda j: ["show", j.new, "--company", "globex"], 1, ("for company globex",)),
    "another-company-history": (
        lambda j: ["history", j.new, "--company", "globex"],
        1,
        ("for company globex",),
    ),
    # JSON and payloads
    "malformed-payload-json": (_submit("--payload", '{"emailSetting": '), 1, ("malformed JSON", "payload")),
    "malformed-tasks-json": (
        lambda j: ["progress", j.running, "--percent", "5", "--tasks", "[{"],
        1,
        ("malformed JSON in --tasks",),
    ),
    "tasks-with-a-bad-fraction": (
        lambda j: ["progress", j.running, "--percent", "5", "--tasks", '[{"taskType": "t", "progress": 2}]'],
        1,
        ("invalid --tasks", "progress"),
    ),
    "malformed-tasks-json-of-the-wrong-kind": (
        lambda j: ["progress", j.running, "--percent", "5", "--tasks", "{bad"],
        1,
        ("malformed JSON in --tasks",),
    ),
    "malformed-payload-that-opens-an-array": (
        lambda j: [
            "submit",
            "--company",
            "acme",
            "--name",
            "x",
            "--type",
            "optimizeImagesJob",
            "--payload",
            "[bad",
        ],
        1,
        ("malformed JSON in the optimizeImagesJob payload",),
    ),
    "payload-nested-past-the-decoder": (
        _submit("--payload", '{"emailSetting": "All", "x": ' + "[" * 1200 + "]" * 1200 + "}"),
        1,
        ("malformed JSON in the optimizeImagesJob payload: nested more than 32 levels deep",),
    ),
    "tasks-nested-past-the-decoder": (
        lambda j: ["progress", j.running, "--percent", "5", "--tasks", "[" * 1200 + "]" * 1200],
        1,
        ("malformed JSON in --tasks: nested too deeply to read",),
    ),
    "malformed-counters-json": (
        lambda j: ["complete", j.running, "--counters", "{"],
        1,
        ("malformed JSON in --counters",),
    ),
    "negative-counter": (
        lambda j: ["complete", j.running, "--counters", '{"fileErrorCount": -1}'],
        1,
        ("invalid --counters", "fileErrorCount"),
    ),
    "missing-payload-field": (
        _submit("--payload", "{}"),
        1,
        ("invalid optimizeImagesJob payload", "missing emailSetting"),
    ),
    "missing-payload": (_submit(), 1, ("payload: missing emailSetting",)),
    "missing-upload-field": (
        _submit(
            "--payload", UPLOAD_DIRECTORY.replace('"serverDir": "incoming/", ', ""), kind="uploadDirectoryJob"
        ),
        1,
        ("payload: missing serverDir",),
    ),
    "wrong-payload-field-type": (
        _submit("--payload", '{"emailSetting": 3}'),
        1,
        ("emailSetting: expected str, got int",),
    ),
    "unknown-payload-field": (
        _submit("--payload", '{"emailSetting": "All", "email": "x"}'),
        1,
        ("unknown field email",),
    ),
    "bad-email-setting-enum": (
        _submit("--payload", '{"emailSetting": "Sometimes"}'),
        1,
        ("emailSetting: invalid enum value 'Sometimes'",),
    ),
    "bad-publish-type-enum": (
        _submit(
            "--payload", '{"emailSetting": "All", "publishType": "Partial"}', kind="imageServingPublishJob"
        ),
        1,
        ("publishType: invalid enum value 'Partial'",),
    ),
    "bad-export-format-enum": (
        _submit(
            "--payload", '{"assetHandleArray": ["a"], "fmt": "png", "emailSetting": "All"}', kind="exportJob"
        ),
        1,
        ("fmt: invalid enum value 'png'",),
    ),
    "unknown-payload-kind": (
        _submit("--payload", "{}", kind="publishJob"),
        1,
        ("unknown payload kind 'publishJob'",),
    ),
    "upload-post-job": (
        _submit("--payload", "{}", kind="uploadPostJob"),
        1,
        ("uploadPostJob cannot be submitted",),
    ),
    "two-follow-on-publishes": (
        _submit(
            "--payload",
            UPLOAD_DIRECTORY[:-1] + ', "postVideoPublishJob": {"emailSetting": "All"},'
            ' "postImageRenderingPublishJob": {"emailSetting": "All"}}',
            kind="uploadDirectoryJob",
        ),
        1,
        ("at most one follow-on publish",),
    ),
    "bad-locale": (
        _submit("--payload", OPTIMIZE, "--locale", "en_US"),
        1,
        ("locale 'en_US' is not of the form ll or ll-CC",),
    ),
    "bad-locale-case": (_submit("--payload", OPTIMIZE, "--locale", "EN-us"), 1, ("locale 'EN-us'",)),
    # usage errors
    "non-iso-time": (
        lambda j: ["start", j.new, "--server", "s", "--at", "yesterday"],
        2,
        ("--at", "ISO 8601"),
    ),
    "non-iso-time-on-submit": (_submit("--payload", OPTIMIZE, "--at", "01/02/2026"), 2, ("--at", "ISO 8601")),
    "percent-not-a-number": (
        lambda j: ["progress", j.running, "--percent", "half"],
        2,
        ("--percent", "'half'"),
    ),
    "missing-server": (lambda j: ["start", j.new], 2, ("--server",)),
    "missing-handle": (lambda _: ["start", "--server", "s"], 2, ("HANDLE",)),
    "unreadable-payload-file": (
        _submit("--payload", "@/no/such/payload.json"),
        2,
        ("/no/such/payload.json",),
    ),
    "unknown-command": (lambda _: ["pause-everything"], 2, ("pause-everything",)),
    "unknown-format": (lambda j: ["show", j.new, "--format", "xml"], 2, ("--format", "'xml'")),
    "negative-total-size": (
        lambda j: ["start", j.new, "--server", "s", "--total-size", "-1"],
        2,
        ("--total-size",),
    ),
    # values too large for the store
    "total-size-too-large": (
        lambda j: ["start", j.new, "--server", "s", "--total-size", str(2**64)],
        2,
        ("--total-size", "0<=x<=9223372036854775807"),
    ),
    "counter-too-large": (
        lambda j: ["complete", j.running, "--counters", f'{{"fileSuccessCount": {2**64}}}'],
        1,
        ("fileSuccessCount",),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_error_is_one_line_on_stderr_with_its_exit_code_and_appends_nothing(
    jobs: Jobs, case: str
) -> None:
    args, exit_code, fragments = CASES[case]
    before = event_count(jobs.db)

    result = run(jobs.db, *args(jobs))

    assert_one_line_error(result, exit_code, *fragments)
    assert event_count(jobs.db) == before


def test_a_usage_error_names_the_option_on_its_error_line(jobs: Jobs) -> None:
    """Whatever else click prints for a usage error, its `Error:` line names the option and exits 2."""
    result = run(jobs.db, "start", jobs.new, "--server", "s", "--at", "yesterday")

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert "'--at'" in errors[0]
    assert "'yesterday' is not an ISO 8601 time" in errors[0]


# --- --db that is not a ledger ------------------------------------------------------------------


def _fingerprint(path: Path) -> str:
    if path.is_dir():
        return repr(sorted(os.listdir(path)))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _other_app_db(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices (total) VALUES (9.5)")
    conn.close()
    return path


def _file(name: str, content: bytes) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        (tmp / name).write_bytes(content)
        return tmp / name

    return make


TARGETS: dict[str, tuple[Callable[[Path], Path], tuple[str, ...]]] = {
    "a-directory": (lambda tmp: tmp, ("is a directory",)),
    "a-text-file": (
        _file("notes.txt", b"not a database\n"),
        ("is not a jobledger database (not an SQLite file)",),
    ),
    "a-short-binary-file": (_file("x.bin", b"\x00\x01"), ("is not a jobledger database",)),
    "an-sqlite-file-of-another-app": (
        lambda tmp: _other_app_db(tmp / "billing.db"),
        ("is an SQLite database but not a jobledger ledger",),
    ),
}
COMMANDS = {
    "submit": [
        "submit",
        "--company",
        "acme",
        "--name",
        "n",
        "--type",
        "optimizeImagesJob",
        "--payload",
        OPTIMIZE,
    ],
    "show": ["show", "acme||n_2026-01-01-09:00:00"],
    "start": ["start", "acme||n_2026-01-01-09:00:00", "--server", "s"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("target", list(TARGETS))
def test_a_db_path_that_is_not_a_ledger_is_refused_in_one_line_and_left_untouched(
    tmp_path: Path, target: str, command: str
) -> None:
    make, fragments = TARGETS[target]
    path = make(tmp_path)
    before = _fingerprint(path)

    result = run(str(path), *COMMANDS[command])

    assert_one_line_error(result, 1, str(path), *fragments)
    assert _fingerprint(path) == before


def test_a_read_of_a_ledger_that_does_not_exist_says_so_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"

    result = run(str(path), "show", "acme||n")

    assert_one_line_error(result, 1, "no ledger at", str(path))
    assert not path.exists()


def test_a_ledger_in_a_folder_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "ledger.db"

    result = run(str(path), *COMMANDS["submit"])

    assert_one_line_error(result, 1, "does not exist")
    assert not path.parent.exists()


# --- PostgreSQL that cannot be reached ----------------------------------------------------------

UNREACHABLE = {
    "no-schema": "postgresql://postgres@127.0.0.1:1/test?connect_timeout=1",
    "with-schema": "postgresql://postgres@127.0.0.1:1/test?connect_timeout=1&schema=t_unreachable",
}


@pytest.mark.parametrize("command", ["submit", "show"])
@pytest.mark.parametrize("url", list(UNREACHABLE))
def test_an_unreachable_postgresql_fails_fast_in_one_line(url: str, command: str) -> None:
    started = time.monotonic()

    result = run(UNREACHABLE[url], *COMMANDS[command])

    elapsed = time.monotonic() - started
    assert_one_line_error(result, 1, "cannot use PostgreSQL at 127.0.0.1:1/test")
    assert elapsed < 10, f"took {elapsed:.1f} s to give up"


@pytest.mark.parametrize(
    ("where", "problem"),
    [
        (
            "postgres@{host}/jobledger_no_such_database",
            'database "jobledger_no_such_database" does not exist',
        ),
        ("jobledger_no_such_role@{host}/test", 'role "jobledger_no_such_role" does not exist'),
    ],
    ids=["missing-database", "missing-role"],
)
def test_a_postgresql_server_that_refuses_the_login_is_reported_with_its_reason(
    where: str, problem: str
) -> None:
    dsn = os.environ.get("JOBLEDGER_TEST_POSTGRES")
    if not dsn:
        pytest.skip("JOBLEDGER_TEST_POSTGRES is not set; PostgreSQL leg skipped")
    host = dsn.split("?", 1)[0].split("@", 1)[-1].split("/", 1)[0]
    started = time.monotonic()

    result = run(f"postgresql://{where.format(host=host)}?connect_timeout=2", *COMMANDS["show"])

    assert_one_line_error(result, 1, "cannot use PostgreSQL", problem)
    assert time.monotonic() - started < 10
