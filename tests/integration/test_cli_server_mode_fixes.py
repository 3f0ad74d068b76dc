"""Server mode however it is chosen: what needs the ledger's file is refused with JOBLEDGER_SERVER
as with --server, before any file is made; and `events --follow` waits out a server that is down
for a while, then goes on from its last position, each event once."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest
import server_support
from click.testing import CliRunner
from server_support import Served, serving
from terminal_support import on_a_terminal

from jobledger.cli.main import cli
from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import JobLedger

CLI = [sys.executable, "-c", "from jobledger.cli.main import cli; cli()"]
JOBLEDGER = str(Path(sys.executable).parent / "jobledger")  # the console script
PAYLOAD = {"optimizeImagesJob": {"emailSetting": "All"}}

# What works on the ledger's file itself, refused in server mode (README, "Serving the ledger").
FILE_ONLY = [
    ["demo", "--jobs", "3"],
    ["serve", "--port", "0"],
    ["projections", "status"],
    ["scheduler", "tick"],
    ["audit", "verify"],
    ["export", "-o", "x.ndjson"],
    ["import", "x.ndjson"],
    ["active", "--as-of", "2026-11-28T13:00:00Z"],
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(str(tmp_path_factory.mktemp("served") / "ledger.db")) as served:
        yield served


@pytest.mark.parametrize("way", ["--server", "JOBLEDGER_SERVER"])
@pytest.mark.parametrize("args", FILE_ONLY, ids=[" ".join(args) for args in FILE_ONLY])
def test_what_needs_the_ledgers_file_is_refused_however_server_mode_was_chosen(
    server: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, way: str, args: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"http://127.0.0.1:{server.port}"
    monkeypatch.delenv("JOBLEDGER_SERVER", raising=False)
    if way == "JOBLEDGER_SERVER":
        monkeypatch.setenv("JOBLEDGER_SERVER", url)
    result = CliRunner().invoke(cli, [*(["--server", url] if way == "--server" else []), *args])
    assert result.exit_code == 2 and not result.stdout
    assert result.stderr.count("\n") == 1, result.stderr
    refusal = "fires its ledger's schedules itself" if args[0] == "scheduler" else "server's host"
    assert refusal in result.stderr and way in result.stderr
    assert list(tmp_path.iterdir()) == []  # no ledger, no serve lock, no export


def test_demo_with_jobledger_server_in_the_environment_fills_no_local_file(
    server: Served, tmp_path: Path
) -> None:
    env = {**os.environ, "JOBLEDGER_SERVER": f"http://127.0.0.1:{server.port}"}
    env.pop("JOBLEDGER_DB", None)
    done = subprocess.run(
        [JOBLEDGER, "demo", "--jobs", "3"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and not done.stdout
    assert done.stderr.count("\n") == 1 and "`demo` works on the ledger itself" in done.stderr
    assert not (tmp_path / "jobledger.db").exists()


def submit(server: Served, name: str) -> None:
    status, body = server.call("POST", "/v1/jobs", {"companyHandle": "acme", "jobName": name, **PAYLOAD})
    assert status == 201, body


def lines_of(stream: IO[str]) -> queue.Queue[str]:
    """The lines of a stream as they come, read by a thread of their own ("" at its end)."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        with stream:  # closed at its end
            for line in stream:
                lines.put(line)
        lines.put("")

    threading.Thread(target=read, daemon=True).start()
    return lines


def positions_until(lines: queue.Queue[str], last: int, timeout: float = 30) -> list[int]:
    """The positions printed until `last` is (or the output ends, or the time is up)."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while not seen or seen[-1] < last:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if not line:
            break
        seen.append(int(json.loads(line)["position"]))
    return seen


@contextmanager
def serving_on(port: int, db: str, *, auth: bool = False) -> Iterator[Served]:
    """`serving`, on the port given rather than a free one (a restart on the same address)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(server_support, "free_port", lambda: port)
        with serving(db, auth=auth) as served:
            yield served


@contextmanager
def following(port: int, *extra: str) -> Iterator[tuple[subprocess.Popen[str], queue.Queue[str]]]:
    """`events --follow` against the server on `port`, and the lines it prints; ended after."""
    process = subprocess.Popen(
        [*CLI, "--server", f"http://127.0.0.1:{port}", *extra, "events", "--follow", "--format", "ndjson"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        yield process, lines_of(process.stdout)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stderr.close()


def said(process: subprocess.Popen[str], timeout: float = 20) -> str:
    """What a follower said on stderr, once it has ended."""
    assert process.stderr is not None
    process.wait(timeout)
    return process.stderr.read()


def test_follow_waits_out_a_server_that_is_down_for_seconds_and_misses_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    with serving(db) as server, following(server.port) as (process, lines):
        submit(server, "First")
        submit(server, "Second")
        assert positions_until(lines, 2) == [1, 2]
        assert server.stop() == 0  # SIGTERM: it ends the stream and exits
        time.sleep(3)  # long enough for tries to fail, and the waits between them to grow
        with JobLedger(db) as ledger:  # committed while no server runs: not to be missed either
            payload = decode_payload("optimizeImagesJob", json.dumps(PAYLOAD["optimizeImagesJob"]))
            ledger.submit("acme", "WhileDown", payload)
        with serving_on(server.port, db) as again:
            submit(again, "Third")
            submit(again, "Fourth")
            seen = positions_until(lines, 5)
            process.send_signal(signal.SIGINT)  # Ctrl-C
            errors = said(process)
        assert seen == [3, 4, 5], errors
        assert lines.get(timeout=5) == ""  # nothing more: no event twice
    assert process.returncode == 0, errors
    told = errors.splitlines()
    assert len(told) == 2, errors
    assert "lost the server" in told[0] and "Connection refused" in told[0]
    assert "is back" in told[1] and "after position 2" in told[1]


def test_follow_ends_at_once_in_one_line_when_the_token_is_refused(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    with JobLedger(db) as ledger:
        issued = ledger.create_token("acme", "IpsAdmin")
    with serving(db, auth=True) as server:
        with following(server.port, "--token", "jlt_nope_nope") as (process, _):
            errors = said(process)
        assert process.returncode == 1 and errors.count("\n") == 1 and "token" in errors, errors
        with following(server.port, "--token", issued.secret) as (process, _):
            time.sleep(1)  # on the live stream
            assert server.stop() == 0
            with JobLedger(db) as ledger:
                ledger.revoke_token(issued.token.tokenId)
            with serving_on(server.port, db, auth=True):
                errors = said(process)  # 401 on the next server: not tried again
    assert process.returncode == 1, errors
    assert errors.splitlines()[-1].startswith("Error:") and "token" in errors.splitlines()[-1], errors


@pytest.mark.parametrize("fmt", ["table", "ndjson"])
def test_events_of_a_run_that_is_not_there_print_nothing_as_on_the_file(
    server: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    monkeypatch.delenv("JOBLEDGER_SERVER", raising=False)
    args = ["events", "--job", "acme||nope", "--format", fmt]
    JobLedger(tmp_path / "local.db").close()
    local = CliRunner().invoke(cli, ["--db", str(tmp_path / "local.db"), *args])
    remote = CliRunner().invoke(cli, ["--server", f"http://127.0.0.1:{server.port}", *args])
    assert (remote.exit_code, remote.stdout, remote.stderr) == (local.exit_code, local.stdout, local.stderr)
    assert remote.exit_code == 0


def test_on_a_terminal_events_of_a_run_that_is_not_there_say_so_on_stderr(
    server: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JOBLEDGER_SERVER", raising=False)
    on_a_terminal(monkeypatch)
    args = ["events", "--job", "acme||nope", "--format", "ndjson"]
    JobLedger(tmp_path / "local.db").close()
    local = CliRunner().invoke(cli, ["--db", str(tmp_path / "local.db"), *args])
    remote = CliRunner().invoke(cli, ["--server", f"http://127.0.0.1:{server.port}", *args])
    assert (remote.exit_code, remote.stdout, remote.stderr) == (local.exit_code, local.stdout, local.stderr)
    assert local.exit_code == 0 and not local.stdout
    assert local.stderr == "Warning: no run or schedule 'acme||nope' in this ledger\n"


@pytest.mark.parametrize("path", ["/base", "/v1"])
def test_a_server_url_with_a_path_is_one_line_that_says_so(server: Served, path: str) -> None:
    # The dashboard answers /base/... with its HTML page; /v1/v1/... is the API's "no such path".
    result = CliRunner().invoke(cli, ["--server", f"http://127.0.0.1:{server.port}{path}", "logs"])
    assert result.exit_code == 1 and not result.stdout
    assert result.stderr.count("\n") == 1 and "<" not in result.stderr, result.stderr
    assert "the server answered 404" in result.stderr
    assert result.stderr.rstrip().endswith("(is the URL a jobledger server's, without a path?)")


def test_db_and_server_on_one_command_line_are_refused(server: Served, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{server.port}"
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "l.db"), "--server", url, "logs"])
    assert result.exit_code == 2 and "--db and --server name two ledgers" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_db_on_the_command_line_wins_over_jobledger_server(
    server: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBLEDGER_SERVER", "http://127.0.0.1:9")  # (nothing listens there)
    db = str(tmp_path / "l.db")
    submit = ["submit", "--company", "acme", "--name", "n", "--type", "optimizeImagesJob"]
    made = CliRunner().invoke(cli, ["--db", db, *submit, "--payload", '{"emailSetting": "All"}'])
    assert made.exit_code == 0, made.stderr
    shown = CliRunner().invoke(cli, ["--db", db, "show", made.stdout.strip(), "--format", "json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["state"] == "New", shown.stderr


def test_a_clock_skew_through_a_server_names_the_servers_setting(server: Served) -> None:
    where = ["--server", f"http://127.0.0.1:{server.port}"]
    submit = ["submit", "--company", "acme", "--name", "skew", "--type", "optimizeImagesJob"]
    made = CliRunner().invoke(cli, [*where, *submit, "--payload", '{"emailSetting": "All"}'])
    later = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    result = CliRunner().invoke(cli, [*where, "start", made.stdout.strip(), "--server", "s", "--at", later])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "(the server's JOBLEDGER_MAX_CLOCK_SKEW sets the limit)" in result.stderr


def test_a_commands_own_db_wins_over_jobledger_server_and_not_over_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `serve --db X` and `demo --db X` take --db after the command too ("either place").
    monkeypatch.setenv("JOBLEDGER_SERVER", "http://127.0.0.1:9")
    db = str(tmp_path / "demo.db")
    filled = CliRunner().invoke(cli, ["demo", "--db", db, "--jobs", "3", "--companies", "1"])
    assert filled.exit_code == 0, filled.stderr
    assert os.path.getsize(db) > 0
    monkeypatch.delenv("JOBLEDGER_SERVER")
    other = str(tmp_path / "d2.db")
    both = CliRunner().invoke(cli, ["--server", "http://127.0.0.1:9", "demo", "--db", other])
    assert both.exit_code == 2 and "--db and --server name two ledgers" in both.stderr
