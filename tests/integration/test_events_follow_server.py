"""`events --follow --server`: the server's history, then its live SSE stream (no polling), which
survives the server going away and coming back on the same address."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from server_support import Served, serving

PAYLOAD = {"optimizeImagesJob": {"emailSetting": "All"}}
CLI = [sys.executable, "-c", "from jobledger.cli.main import cli; cli()"]


def submit(server: Served, name: str) -> str:
    status, body = server.call("POST", "/v1/jobs", {"companyHandle": "acme", "jobName": name, **PAYLOAD})
    assert status == 201, body
    return str(body["jobHandle"])


def next_record(stream: IO[str]) -> dict[str, object]:
    line = stream.readline()
    assert line, "the follower ended"
    return dict(json.loads(line))


def test_follow_prints_history_then_live_events_and_stops_on_sigterm(tmp_path: Path) -> None:
    with serving(str(tmp_path / "ledger.db")) as server:
        first = submit(server, "First")
        follower = subprocess.Popen(
            [*CLI, "--server", f"http://127.0.0.1:{server.port}", "events", "--follow", "--format", "ndjson"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert follower.stdout is not None
            assert next_record(follower.stdout)["handle"] == first
            time.sleep(0.3)  # it is on the live stream now
            second = submit(server, "Second")
            record = next_record(follower.stdout)
            assert record["event"] == "Submitted" and record["handle"] == second and record["position"] == 2
        finally:
            follower.terminate()
            _, errors = follower.communicate(timeout=10)
    assert follower.returncode == 0, errors
    assert errors == ""


def test_follow_with_a_limit_ends_after_that_many(tmp_path: Path) -> None:
    with serving(str(tmp_path / "ledger.db")) as server:
        submit(server, "First")
        follower = subprocess.Popen(
            [
                *CLI,
                "--server",
                f"http://127.0.0.1:{server.port}",
                "events",
                "--follow",
                "--limit",
                "3",
                "--format",
                "ndjson",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.5)
        submit(server, "Second")
        submit(server, "Third")
        out, errors = follower.communicate(timeout=20)
    assert follower.returncode == 0, errors
    assert [json.loads(line)["position"] for line in out.splitlines()] == [1, 2, 3]


def test_follow_waits_for_a_server_that_is_gone_and_says_so_in_one_line(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    with serving(db) as server:
        port = server.port
        submit(server, "First")
        follower = subprocess.Popen(
            [*CLI, "--server", f"http://127.0.0.1:{port}", "events", "--follow", "--format", "ndjson"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert follower.stdout is not None
        assert next_record(follower.stdout)["position"] == 1
        assert server.stop() == 0
    # The stream ended with the server; the follower waits for it (a restart is followed on:
    # test_cli_server_mode_fixes.py) until Ctrl-C, having said once that it lost it.
    time.sleep(2)
    assert follower.poll() is None
    follower.send_signal(signal.SIGINT)
    _, errors = follower.communicate(timeout=20)
    assert follower.returncode == 0
    lines = errors.strip().splitlines()
    assert len(lines) == 1 and "lost the server" in lines[0], errors
