"""The plumbing of the helper processes: frames round-trip, a dead child says why, stop always ends it."""

from __future__ import annotations

import io

from jobledger.store import processes


def test_frames_come_back_as_they_were_sent() -> None:
    messages = [b"", b"x", bytes(range(256)) * 300]
    stream = io.BytesIO(b"".join(processes.frame(message) for message in messages))
    assert list(processes.frames(stream)) == messages


def test_a_child_that_cannot_start_says_why_in_one_line() -> None:
    child = processes.start("jobledger.no_such_module")
    try:
        assert processes.why_stopped(child).endswith("No module named jobledger.no_such_module")
    finally:
        processes.stop(child)
    assert child.returncode == 1


def test_stopping_a_child_closes_its_input_and_waits_for_it() -> None:
    child = processes.start("jobledger.store.appender", ":memory:", "stored_events", "30")
    processes.stop(child)
    assert child.returncode == 0
