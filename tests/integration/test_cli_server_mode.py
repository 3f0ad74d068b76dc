"""The CLI with --server: the README walk-through against a real server, every read printing what
it prints on the ledger's file, and what needs the file itself refused in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from server_support import Served, free_port, serving
from test_readme import _block

from jobledger.cli.main import cli
from jobledger.service.ledger import JobLedger


class Remote:
    def __init__(self, server: Served, admin: str, reader: str) -> None:
        self.server = server
        self.url = f"http://127.0.0.1:{server.port}"
        self.admin = admin
        self.reader = reader
        self.handle = ""

    def run(self, *args: str, token: str | None = None) -> tuple[int, str, str]:
        result = CliRunner().invoke(cli, ["--server", self.url, "--token", token or self.admin, *args])
        return result.exit_code, result.stdout, result.stderr

    def local(self, *args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(cli, ["--db", self.server.db, *args])
        return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Remote]:
    folder = tmp_path_factory.mktemp("server-mode")
    db = str(folder / "ledger.db")
    with JobLedger(db) as ledger:
        admin = ledger.create_token("acme", "IpsAdmin").secret
        reader = ledger.create_token("acme", "ReadOnly").secret
    with serving(db, auth=True) as server:
        remote = Remote(server, admin, reader)
        script = "set -euo pipefail\n" + _block("Walk-through", "sh") + 'echo "HANDLE=$H"\n'
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "JOBLEDGER_SERVER": remote.url,
            "JOBLEDGER_TOKEN": admin,
        }
        done = subprocess.run(
            ["bash", "-c", script], cwd=folder, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert "Done, warnings" in done.stdout and '"outcome": "warnings"' in done.stdout
        assert not (folder / "walkthrough.db").exists()  # everything went to the server
        remote.handle = done.stdout.rsplit("HANDLE=", 1)[1].strip()
        yield remote


def test_the_walk_through_went_to_the_servers_ledger(remote: Remote) -> None:
    with JobLedger(remote.server.db, create=False) as ledger:
        job = ledger.get_job(remote.handle)
    assert (job.state, job.outcome, job.fileSuccessCount, job.fileWarningCount) == ("Done", "warnings", 1, 1)


READS = [
    ["show", "{h}"],
    ["show", "{h}", "--format", "json"],
    ["show", "{h}", "--version", "2"],
    ["history", "{h}"],
    ["history", "{h}", "--format", "json"],
    ["logs", "--company", "acme", "--limit", "5"],
    ["logs", "--format", "json"],
    ["logs", "--format", "csv", "--sort-by", "JobName", "--direction", "Ascending"],
    ["logs", "--outcome", "warnings", "--format", "ndjson"],
    ["active", "--include-waiting", "--format", "json"],
    ["details", "{h}"],
    ["details", "{h}", "--format", "json", "--log-type", "UploadWarning"],
    ["asset-logs", "acme|a", "--company", "acme"],
    ["scheduled", "--format", "json"],
    ["events", "--format", "ndjson"],
    ["events", "--format", "table", "--job", "{h}"],
    ["events", "--format", "ndjson", "--after", "3", "--limit", "2"],
    ["wait", "{h}", "--format", "json"],
    ["tokens", "list", "--format", "json"],
]


@pytest.mark.parametrize("args", READS, ids=[" ".join(args) for args in READS])
def test_a_read_prints_the_same_against_the_server_as_on_the_file(remote: Remote, args: list[str]) -> None:
    filled = [arg.replace("{h}", remote.handle) for arg in args]
    local = remote.local(*filled)
    served = remote.run(*filled)
    assert served == local
    assert local[0] == 0 and local[1]


@pytest.mark.parametrize(
    "args",
    [
        ["projections", "status"],
        ["audit", "verify"],
        ["export", "-o", "x.ndjson"],
        ["scheduler", "tick"],
        ["import", "x.ndjson"],
    ],
)
def test_what_needs_the_ledgers_file_is_refused_in_one_line(remote: Remote, args: list[str]) -> None:
    code, out, err = remote.run(*args)
    assert code == 2 and not out
    refusal = "fires its ledger's schedules itself" if args[0] == "scheduler" else "server's host"
    assert err.count("\n") == 1 and refusal in err


def test_an_error_is_the_same_one_line_as_on_the_file(remote: Remote) -> None:
    before = remote.local("events", "--format", "ndjson")[1]
    for args in (
        ["start", "acme||nope", "--server", "s1"],
        ["start", remote.handle, "--server", "s1"],
        ["progress", remote.handle, "--percent", "120"],
        ["show", remote.handle, "--version", "99"],
    ):
        assert remote.run(*args) == remote.local(*args)
        assert remote.run(*args)[0] == 1
    assert remote.local("events", "--format", "ndjson")[1] == before


def test_a_read_only_token_is_refused_a_command_in_one_line(remote: Remote) -> None:
    code, out, err = remote.run(
        "submit", "--company", "acme", "--name", "x", "--type", "optimizeImagesJob",
        "--payload", '{"emailSetting": "All"}', token=remote.reader,
    )  # fmt: skip
    assert code == 1 and not out and err.count("\n") == 1 and "ReadOnly" in err


def test_a_bad_token_or_no_server_is_one_line(remote: Remote) -> None:
    code, _, err = remote.run("logs", token="jlt_nope_nope")
    assert code == 1 and err.count("\n") == 1 and "token is not valid" in err
    result = CliRunner().invoke(cli, ["--server", f"http://127.0.0.1:{free_port()}", "logs"])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "cannot reach the server" in result.stderr
    result = CliRunner().invoke(cli, ["--server", "ftp://x", "logs"])
    assert result.exit_code == 1 and "not a server URL" in result.stderr
