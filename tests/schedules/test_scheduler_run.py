"""`jobledger scheduler run` in a process of its own: it fires what is due and stops cleanly on a signal."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
from schedule_support import jobledger_command, optimize, subprocess_env

from jobledger.domain.schedule_events import Fired
from jobledger.service.ledger import JobLedger


def _fired(path: str, handle: str) -> list[Fired]:
    ledger = JobLedger(path, create=False)
    try:
        return [e for e in ledger.history(handle) if isinstance(e, Fired)]
    finally:
        ledger.close()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_scheduler_run_fires_a_due_schedule_within_seconds_and_exits_0_on_a_signal(
    ledger_path: str, stop_signal: signal.Signals
) -> None:
    now = datetime.now(UTC)
    ledger = JobLedger(ledger_path)
    try:
        handle = ledger.submit("acme", "DueNow", optimize(), exec_time=now - timedelta(seconds=1), at=now)
        later = ledger.submit("acme", "NextYear", optimize(), exec_time=now + timedelta(days=365), at=now)
    finally:
        ledger.close()

    process = subprocess.Popen(
        [*jobledger_command(), "--db", ledger_path, "scheduler", "run", "--interval", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    )
    try:
        deadline = time.monotonic() + 10
        while not _fired(ledger_path, handle):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no run appeared within 10 seconds"
            time.sleep(0.05)
        time.sleep(0.3)  # a few more ticks: none may fire the one-off again
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0, err
    (fired,) = _fired(ledger_path, handle)
    assert out.split() == [fired.runHandle]
    assert "scheduler stopped" in err and "Traceback" not in err
    assert _fired(ledger_path, later) == []
