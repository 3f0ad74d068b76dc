"""Random Python values thrown at every argument of the Python API: each call either raises a
LedgerError and appends nothing, or appends events that every read decodes (issue 11, A1)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from itertools import count
from pathlib import Path
from typing import Any

from cli_checks import explain
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from samples import OPTIMIZE

from jobledger.cli.main import cli
from jobledger.domain.errors import LedgerError
from jobledger.domain.events import Counters, JobLogDetailAux, TaskProgress
from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector

PAYLOAD = decode_payload("optimizeImagesJob", OPTIMIZE)
_names = count()

scalars = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**30]),
    st.floats(),
    st.booleans(),
    st.none(),
    st.binary(max_size=8),
    st.text(max_size=12),
    st.sampled_from(["", " ", "a\nb", "\x00", "UploadSuccess", "2026-11-27T10:00:00Z", "srv1", "\udc80"]),
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(),  # naive
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=5), scalars, max_size=3),
    st.builds(TaskProgress, taskType=st.text(max_size=5), numProcessed=scalars),
    st.builds(JobLogDetailAux, logMessage=scalars, logType=st.sampled_from(["UploadWarning", "Nope"])),
    st.builds(Counters, fileSuccessCount=scalars),
    st.lists(st.builds(TaskProgress, taskType=scalars), max_size=2),
)

# Each API method, the arguments it takes, and valid values for the ones not being fuzzed.
Valid = dict[str, Any]
METHODS: dict[str, tuple[str, Valid]] = {
    "submit": ("none", {"company": "acme", "name": "n", "payload": PAYLOAD}),
    "start": ("new", {"server": "srv1", "total_size": 3}),
    "update_progress": ("running", {"percent": 5, "message": "m", "tasks": [], "server": "srv1"}),
    "log_detail": (
        "running",
        {"log_type": "UploadSuccess", "message": "m", "asset_name": "a.jpg", "aux": []},
    ),
    "complete": ("running", {"fatal": False, "message": "done", "counters": None}),
    "stop": ("running", {"reason": "r", "requested_by": "ops"}),
    "request_stop": ("new", {"reason": "r", "requested_by": "ops"}),
    "delete": ("running", {"requested_by": "ops"}),
    "pause": ("schedule", {"requested_by": "ops"}),
    "resume": ("paused", {"requested_by": "ops"}),
    "execute": ("schedule", {}),
}
OPTIONAL = {
    "submit": [
        "user_email",
        "locale",
        "description",
        "idempotency_key",
        "exec_time",
        "exec_schedule",
        "time_zone",
        "at",
    ],
    "start": ["company", "at"],
    "update_progress": ["company", "at"],
    "log_detail": ["asset_type", "asset_handle", "company", "at"],
    "complete": ["company", "at"],
    "stop": ["company", "at"],
    "request_stop": ["company", "at"],
    "delete": ["company", "at"],
    "pause": ["company", "at"],
    "resume": ["company", "at"],
    "execute": ["company", "at"],
}
POSITIONAL = {"submit": ["company", "name", "payload"], "start": ["server"]}
POSITIONAL |= {"update_progress": ["percent"], "log_detail": ["log_type", "message"]}


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, str, Any]:
    """A method, one of its arguments (or the handle), and a random value for it."""
    method = draw(st.sampled_from(sorted(METHODS)))
    arguments = [*METHODS[method][1], *OPTIONAL[method]]
    if METHODS[method][0] != "none":
        arguments.append("handle")
    return method, draw(st.sampled_from(arguments)), draw(values)


def _prepare(ledger: JobLedger, method: str, argument: str, value: Any) -> tuple[str, Callable[[], object]]:
    """The fuzzed call, on a run in the state the method needs (made first, with valid calls)."""
    state, valid = METHODS[method]
    handle = ""
    if state in ("schedule", "paused"):
        handle = ledger.submit("acme", f"every{next(_names)}", PAYLOAD, exec_schedule="0 0 3 * * ?")
        if state == "paused":
            ledger.pause(handle)
    elif state != "none":
        handle = ledger.submit("acme", f"job{next(_names)}", PAYLOAD)
        if state == "running":
            ledger.start(handle, "srv1")
    kwargs = {**valid, argument: value}
    positional = [kwargs.pop(name) for name in POSITIONAL.get(method, [])]
    if state != "none":
        positional.insert(0, kwargs.pop("handle", handle))
    function: Callable[..., object] = getattr(ledger, method)
    return handle, lambda: function(*positional, **kwargs)


def test_random_values_either_are_refused_cleanly_or_stored_readably(tmp_path: Path) -> None:
    db = str(tmp_path / "fuzz.db")
    ledger = JobLedger(db)
    projector = open_projector(ledger)
    outcomes = {"refused": 0, "stored": 0}

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(call=calls())
    def one_call(call: tuple[str, str, Any]) -> None:
        handle, fuzzed = _prepare(ledger, *call)
        before = ledger.head_position()
        try:
            returned = fuzzed()
        except LedgerError:
            assert ledger.head_position() == before, "a refused call appended"
            outcomes["refused"] += 1
        else:
            outcomes["stored"] += 1
            handle = returned if isinstance(returned, str) else handle
        for stored in ledger.reader.stored(after=before):
            ledger.reader.decode(stored)
        if handle:
            ledger.history(handle)
        projector.catch_up()

    one_call()
    assert outcomes["refused"] and outcomes["stored"], outcomes

    # Everything stored decodes, the views match a rebuild, and every read command answers.
    assert sum(1 for stored in ledger.reader.stored() if ledger.reader.decode(stored)) == ledger.event_count()
    assert projector.verify() == []
    for read in (
        ["logs", "--format", "json"],
        ["active", "--include-waiting"],
        ["events", "--format", "ndjson"],
        ["export"],
        ["audit", "verify"],
    ):
        result = CliRunner().invoke(cli, ["--db", db, *read], env={"JOBLEDGER_DB": None})
        assert result.exit_code == 0, explain(result)
    ledger.close()
