"""How `jobledger serve` starts, or refuses to: one server per ledger whatever path names it, and
an address that is taken refused in one line before anything says it is served."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from click.testing import CliRunner
from server_support import serving

from jobledger.cli.main import cli
from jobledger.server.serving import url_of


def test_a_second_server_on_the_same_ledger_through_a_symlink_is_refused(sqlite_db: str) -> None:
    alias = Path(sqlite_db).with_name("alias.db")
    alias.symlink_to(Path(sqlite_db).name)
    with serving(sqlite_db):
        result = CliRunner().invoke(cli, ["--db", str(alias), "serve", "--port", "0", "--no-auth"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "already served" in result.output
    assert not Path(f"{alias}.serve-lock").exists()  # the lock is the real file's


def test_an_address_in_use_is_refused_in_one_line_and_nothing_claims_to_serve(sqlite_db: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "jobledger.cli",
                "--db",
                sqlite_db,
                "serve",
                "--port",
                str(port),
                "--no-auth",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ},
        )
    assert result.returncode == 1
    refused = f"Error: cannot listen on http://127.0.0.1:{port}: Address already in use"
    assert result.stderr.splitlines() == [refused], result.stderr  # not a warning before it
    assert not os.path.exists(sqlite_db) and not os.path.exists(f"{sqlite_db}.serve-lock")


def test_port_zero_serves_on_a_free_port_and_says_which(sqlite_db: str) -> None:
    args = [sys.executable, "-m", "jobledger.cli", "--db", sqlite_db, "serve", "--port", "0", "--no-auth"]
    process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env={**os.environ})
    try:
        assert process.stderr is not None
        line = next(line for line in process.stderr if line.startswith("jobledger: serving"))
        url = line.split(" on ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as answer:
            assert answer.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(60)
        if process.stderr is not None:
            process.stderr.close()
    assert code == 0


def test_an_ipv6_address_is_written_in_brackets() -> None:
    assert url_of("::1", 8080) == "http://[::1]:8080"
    assert url_of("127.0.0.1", 8080) == "http://127.0.0.1:8080"


def test_a_stop_signal_as_soon_as_it_says_it_serves_ends_it_with_0(sqlite_db: str) -> None:
    args = [sys.executable, "-m", "jobledger.cli", "--db", sqlite_db, "serve", "--port", "0", "--no-auth"]
    for _ in range(3):
        process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env={**os.environ})
        assert process.stderr is not None
        next(line for line in process.stderr if line.startswith("jobledger: serving"))
        process.send_signal(signal.SIGTERM)  # before its app has started, or while it does
        try:
            assert process.wait(30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stderr.close()


def test_a_second_server_on_the_same_postgresql_ledger_by_another_url_is_refused(
    postgres_url: str, tmp_path: Path
) -> None:
    other = postgres_url.replace("127.0.0.1", "localhost") + "&connect_timeout=7"
    assert other != postgres_url
    with serving(postgres_url, str(tmp_path / "views.db")):
        result = CliRunner().invoke(
            cli, ["--db", other, "--views", str(tmp_path / "v2.db"), "serve", "--port", "0", "--no-auth"]
        )
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "already served" in result.output, result.output
