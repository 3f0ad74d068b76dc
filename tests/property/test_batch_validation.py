"""A batch validated as a whole (validation.validate_batch) gives what validating each command in
turn gives: the same commands, or the same error for the first broken one, named by its place."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobledger.domain.commands import Complete, Execute, LogDetail, RequestStop, Start, UpdateProgress
from jobledger.domain.errors import RuleError
from jobledger.domain.events import JobLogDetailAux, TaskProgress
from jobledger.domain.validation import validate, validate_batch

HANDLE = "acme||run_1"
names = st.one_of(
    st.sampled_from(["srv1", "UploadSuccess", "a.jpg", "", " ", "a\nb", "\x00", "\u2028", "x" * 300]),
    st.text(max_size=6),
    st.none(),
    st.integers(min_value=-2, max_value=2),
)
numbers = st.one_of(st.integers(min_value=-1, max_value=120), st.sampled_from([2**63, 50.5, True, None, "7"]))
times = st.one_of(
    st.none(),
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(min_value=datetime(2000, 1, 1)),  # naive: UTC
    st.sampled_from(["2026-11-27T10:00:00Z", "yesterday", datetime.max, datetime.min.replace(tzinfo=UTC)]),
)
commands = st.one_of(
    st.builds(Start, handle=st.just(HANDLE), server=names, total_size=numbers, at=times),
    st.builds(
        UpdateProgress,
        handle=st.just(HANDLE),
        percent=numbers,
        message=names,
        tasks=st.lists(st.builds(TaskProgress, taskType=names, lastProgressUpdate=times), max_size=2),
        at=times,
    ),
    st.builds(
        LogDetail,
        handle=st.just(HANDLE),
        log_type=names,
        message=names,
        asset_name=names,
        aux=st.lists(st.builds(JobLogDetailAux, logMessage=names, dateCreated=times), max_size=2),
        company=names,
        at=times,
    ),
    st.builds(RequestStop, handle=st.just(HANDLE), reason=names, requested_by=names, at=times),
    st.builds(Complete, handle=st.just(HANDLE), fatal=st.sampled_from([True, False, 1, None]), at=times),
    st.builds(Execute, handle=names, at=times),
)


def one_by_one(batch: list[object]) -> list[object]:
    """What the decider did before batches were validated as a whole: each command in turn."""
    checked = []
    for index, command in enumerate(batch):
        try:
            checked.append(validate(command))  # type: ignore[arg-type]
        except RuleError as err:
            if index:
                err.args = (f"command {index + 1} ({type(command).__name__}): {err}",)
            raise
    return checked


def outcome(check: object, batch: list[object]) -> tuple[str, object]:
    try:
        return "ok", check(batch)  # type: ignore[operator]
    except Exception as err:  # the very type and message are compared
        return type(err).__name__, str(err)


@settings(max_examples=400, deadline=None)
@given(st.lists(commands, max_size=8))
def test_a_batch_validated_as_a_whole_is_validated_as_each_command_alone(batch: list[object]) -> None:
    assert outcome(validate_batch, batch) == outcome(one_by_one, batch)


def test_a_batch_with_one_command_too_large_is_refused_naming_it() -> None:
    rows = [JobLogDetailAux(logType="UploadWarning", logMessage="m" * 10_000) for _ in range(40)]
    batch = [LogDetail(handle=HANDLE, log_type="UploadSuccess", message="ok") for _ in range(30)]
    batch.insert(20, LogDetail(handle=HANDLE, log_type="UploadSuccess", message="ok", aux=rows))
    with pytest.raises(RuleError, match=r"^command 21 \(LogDetail\): .*over the limit"):
        validate_batch(batch)
