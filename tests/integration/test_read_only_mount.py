"""A ledger (and a PostgreSQL reader's views file) on a real read-only mount (a bind mount remounted
read-only; CI runs as root): reads answer, saying the views are read-only; whatever would write
fails in one line; nothing on the mount changes."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_checks import assert_one_line_error
from cli_support import ok, run, submit_args
from mount_support import mounted
from samples import OPTIMIZE

from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import JobLedger

PAYLOAD = decode_payload("optimizeImagesJob", OPTIMIZE)
SUBMIT = submit_args("More", payload=OPTIMIZE)


@pytest.fixture
def read_only_mount(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(a writable folder, the same folder mounted read-only); unmounted after."""
    source, target = tmp_path / "source", tmp_path / "mounted"
    source.mkdir()
    target.mkdir()
    with mounted(target, ["--bind", str(source), str(target)], ["-o", "remount,ro,bind", str(target)]):
        yield source, target


def _snapshot(folder: Path) -> dict[str, bytes]:
    gc.collect()  # the connections of the commands run in this process are closed first
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_reads_of_a_ledger_on_a_read_only_mount_answer_and_writes_fail_in_one_line(
    read_only_mount: tuple[Path, Path],
) -> None:
    source, mounted = read_only_mount
    with JobLedger(str(source / "ledger.db")) as ledger:
        first = ledger.submit("acme", "First", PAYLOAD)
    ok(str(source / "ledger.db"), "logs")  # the views hold the first run
    with JobLedger(str(source / "ledger.db")) as ledger:
        late = ledger.submit("acme", "Late", PAYLOAD)  # the views are one run behind
    before = _snapshot(source)
    db = str(mounted / "ledger.db")

    logs = run(db, "logs")
    assert logs.exit_code == 0, logs.stderr
    assert first in logs.stdout and late in logs.stdout, "caught up in memory"
    assert logs.stderr == "the views are read-only; answering from an in-memory catch-up\n"
    assert ok(db, "audit", "verify").startswith("chain intact: 2 events")
    assert late in ok(db, "events", "--format", "ndjson")
    assert "Submitted" in ok(db, "history", late)

    assert_one_line_error(run(db, *SUBMIT, "--payload", OPTIMIZE), 1, "read-only")
    assert_one_line_error(run(db, "projections", "catch-up"), 1, "read-only")
    assert _snapshot(source) == before, "nothing on the mount changed"


def test_a_postgresql_readers_views_on_a_read_only_mount_answer_from_memory(
    read_only_mount: tuple[Path, Path], postgres_url: str
) -> None:
    source, mounted = read_only_mount
    with JobLedger(postgres_url) as ledger:
        first = ledger.submit("acme", "First", PAYLOAD)
    ok(postgres_url, "--views", str(source / "views.db"), "logs")
    with JobLedger(postgres_url) as ledger:
        late = ledger.submit("acme", "Late", PAYLOAD)
    before = _snapshot(source)

    logs = run(postgres_url, "--views", str(mounted / "views.db"), "logs")

    assert logs.exit_code == 0, logs.stderr
    assert first in logs.stdout and late in logs.stdout
    assert "the views are read-only" in logs.stderr
    assert_one_line_error(
        run(postgres_url, "--views", str(mounted / "views.db"), "projections", "rebuild"), 1, "read-only"
    )
    assert _snapshot(source) == before
