"""For random histories built through the ledger API, every way of building the views agrees.

Catching up in random batch sizes, interleaved with the appends and shared by two projectors on the
same views file (as two processes would), a full rebuild, a catch-up into a fresh views file, and
one plain fold of all events give identical rows; a second catch-up reads nothing; verify is clean.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta
from itertools import zip_longest
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from views_support import (
    EXPORT,
    METADATA,
    OPTIMIZE,
    PUBLISH,
    UPLOAD,
    URLS,
    at,
    batch_size,
    folded_rows,
    stored_rows,
)

from jobledger.domain.commands import Command, LogDetail, Start, UpdateProgress
from jobledger.domain.errors import RuleError
from jobledger.domain.events import Counters, JobLogDetailAux, TaskProgress
from jobledger.projections.runner import Projector
from jobledger.projections.views import VIEWS
from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector

PAYLOADS = [UPLOAD, PUBLISH, METADATA, OPTIMIZE, EXPORT, URLS]
LOG_TYPES = [
    "BeginUpload",
    "UploadSuccess",
    "UploadWarning",
    "UploadError",
    "UploadUrlsError",
    "DuplicateSkipped",
    "FileUpdated",
    "FatalError",
    "EndUpload",
    "NotALogType",  # refused: a RuleError, nothing appended
]
ASSETS = [None, "a|shoe", "a|boot", "a|hat"]

job = st.integers(min_value=0, max_value=40)  # counted back from the latest run
operations = st.one_of(
    st.tuples(
        st.just("submit"),
        st.integers(0, 2),
        st.integers(0, 3),
        st.integers(0, len(PAYLOADS) - 1),
        st.one_of(st.none(), st.sampled_from(["k1", "k2"])),
    ),
    st.tuples(st.just("start"), job, st.sampled_from(["ips-app-01", "ips-app-02", " "])),
    st.tuples(st.just("progress"), job, st.integers(0, 100), st.booleans()),
    st.tuples(
        st.just("log"),
        job,
        st.integers(0, len(LOG_TYPES) - 1),
        st.integers(0, len(ASSETS) - 1),
        st.booleans(),
    ),
    st.tuples(st.just("stop"), job),
    st.tuples(st.just("complete"), job, st.booleans(), st.booleans()),
    st.tuples(st.just("delete"), job),
    st.tuples(st.just("batch"), job, st.lists(st.integers(0, 100), min_size=1, max_size=6)),
    st.tuples(
        st.just("lifecycle"),
        st.integers(0, 2),
        st.integers(0, len(PAYLOADS) - 1),
        st.lists(st.integers(0, 100), max_size=4),
        st.lists(st.integers(0, len(LOG_TYPES) - 2), min_size=1, max_size=4),
        st.sampled_from(["complete", "fatal", "stop", "delete", "stop-then-complete", "live"]),
    ),
    st.tuples(st.just("rewind")),
)
submits = st.tuples(
    st.just("submit"), st.integers(0, 2), st.integers(0, 3), st.integers(0, len(PAYLOADS) - 1), st.none()
)
histories = st.builds(
    lambda first, rest: [*first, *rest],
    st.lists(submits, min_size=1, max_size=6),
    st.lists(operations, min_size=3, max_size=40),
)
# After each write: no catch-up, or a catch-up by projector 0 or 1 (taken in turn, cyclically).
catch_up_plans = st.lists(st.sampled_from([None, None, 0, 1]), min_size=1, max_size=20)
batch_sizes = st.integers(min_value=1, max_value=9)


class Player:
    """Sends a drawn history through the ledger API, catching up between writes as planned."""

    def __init__(self, ledger: JobLedger, projectors: list[Projector], plan: list[int | None]) -> None:
        self.ledger = ledger
        self.projectors = projectors
        self.plan = plan
        self.steps = 0
        self.clock = 0.0
        self.handles: list[str] = []

    def step(self) -> datetime:
        """Between two writes: maybe catch up (as planned), and move the clock on."""
        choice = self.plan[self.steps % len(self.plan)]
        self.steps += 1
        if choice is not None:
            self.projectors[choice].catch_up()
        self.clock += 2
        return at(self.clock)

    def play(self, history: list[tuple[Any, ...]]) -> None:
        """Every operation in turn; broken rules are part of the history and change nothing."""
        for op in history:
            if op[0] == "rewind":
                self.clock -= 30  # the next command on an older run breaks the time-order rule
                continue
            if op[0] not in ("submit", "lifecycle") and not self.handles:
                continue
            with suppress(RuleError):
                self.perform(op, self.step())

    def perform(self, op: tuple[Any, ...], when: datetime) -> None:
        """One operation through the ledger API."""
        kind, ledger = op[0], self.ledger
        handle = self.handles[-1 - op[1] % len(self.handles)] if self.handles else ""
        if kind == "submit":
            _, company, name, payload, key = op
            self.handles.append(
                ledger.submit(
                    f"c{company}",
                    f"job-{name}",
                    PAYLOADS[payload],
                    user_email=f"user{name}@example.com",
                    idempotency_key=key,
                    at=when,
                )
            )
        elif kind == "start":
            ledger.start(handle, op[2], total_size=100, at=when)
        elif kind == "progress":
            tasks = [TaskProgress(taskType="Upload", progress=op[2] / 100)] if op[3] else []
            ledger.update_progress(handle, op[2], message=f"{op[2]}%", tasks=tasks, at=when)
        elif kind == "log":
            aux = [JobLogDetailAux(logMessage="see above", logType="UploadWarning")] if op[4] else []
            asset = ASSETS[op[3]]
            ledger.log_detail(
                handle,
                LOG_TYPES[op[2]],
                f"row at {self.clock}",
                asset_name=asset and asset[2:] + ".tif",
                asset_handle=asset,
                aux=aux,
                at=when,
            )
        elif kind == "stop":
            ledger.request_stop(handle, reason="asked", at=when)
        elif kind == "complete":
            counters = Counters(fileSuccessCount=2, totalFileCount=2) if op[3] else None
            ledger.complete(handle, fatal=op[2], counters=counters, at=when)
        elif kind == "delete":
            ledger.delete(handle, at=when)
        elif kind == "batch":
            commands: list[Command] = [Start(handle=handle, server="ips-app-03", at=when)]
            for i, percent in enumerate(op[2]):
                moment = when + timedelta(seconds=i + 1)
                commands.append(UpdateProgress(handle=handle, percent=percent, at=moment))
                commands.append(
                    LogDetail(handle=handle, log_type="UploadSuccess", message=f"batch {i}", at=moment)
                )
            self.clock += len(op[2]) + 1
            ledger.record(commands)
        elif kind == "lifecycle":
            self.handles.append(ledger.submit(f"c{op[1]}", "lifecycle", PAYLOADS[op[2]], at=when))
            self.live_through(self.handles[-1], *op[3:])

    def live_through(self, handle: str, percents: list[int], log_types: list[int], end: str) -> None:
        """Drive one run from its start to its end, one call (and maybe one catch-up) at a time."""
        ledger = self.ledger
        ledger.start(handle, "ips-app-02", at=self.step())
        for percent, log_type in zip_longest(percents, log_types):
            if percent is not None:
                ledger.update_progress(handle, percent, at=self.step())
            if log_type is not None:
                ledger.log_detail(
                    handle, LOG_TYPES[log_type], "a file", asset_handle="a|shoe", at=self.step()
                )
        if end in ("stop", "stop-then-complete"):
            ledger.request_stop(handle, at=self.step())
        if end in ("complete", "stop-then-complete"):
            ledger.complete(handle, at=self.step())
        elif end == "fatal":
            ledger.complete(handle, fatal=True, message="disk full", at=self.step())
        elif end == "delete":
            ledger.delete(handle, at=self.step())


def check_every_way_of_building_the_views_agrees(
    store: str,
    views: str,
    fresh_views: str,
    history: list[tuple[Any, ...]],
    plan: list[int | None],
    size: int,
) -> None:
    """The whole property, on one store and views file (and a fresh views file to fill)."""
    ledger = JobLedger(store)
    other_ledger = JobLedger(store)
    projectors = [open_projector(ledger, views), open_projector(other_ledger, views)]
    fresh = None
    try:
        with batch_size(size):
            Player(ledger, projectors, plan).play(history)
            projectors[0].catch_up()
        head, events = ledger.head_position(), ledger.event_count()
        incremental = stored_rows(projectors[0].db)

        assert incremental == folded_rows(projectors[0])
        assert [projector.catch_up() for projector in projectors] == [0, 0]
        assert stored_rows(projectors[0].db) == incremental
        assert projectors[0].db.positions(VIEWS) == dict.fromkeys(VIEWS, head)
        assert projectors[1].verify() == []

        fresh = open_projector(ledger, fresh_views)
        assert fresh.catch_up() == events
        assert stored_rows(fresh.db) == incremental

        with batch_size(size):
            assert projectors[1].rebuild() == events
        assert stored_rows(projectors[0].db) == incremental
        assert projectors[0].db.positions(VIEWS) == dict.fromkeys(VIEWS, head)
        assert projectors[0].catch_up() == 0
        assert projectors[0].verify() == []
    finally:
        for projector in [*projectors, *([fresh] if fresh else [])]:
            projector.db.close()
        ledger.close()
        other_ledger.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories, plan=catch_up_plans, size=batch_sizes)
def test_catch_up_in_any_batch_size_a_rebuild_and_a_plain_fold_give_the_same_views(
    history: list[tuple[Any, ...]], plan: list[int | None], size: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        ledger_path = str(Path(folder) / "ledger.db")
        check_every_way_of_building_the_views_agrees(
            ledger_path, ledger_path, str(Path(folder) / "fresh-views.db"), history, plan, size
        )


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(history=histories, plan=catch_up_plans, size=batch_sizes)
def test_on_postgresql_catch_up_a_rebuild_and_a_plain_fold_give_the_same_views(
    postgres_schemas: Callable[[], str], history: list[tuple[Any, ...]], plan: list[int | None], size: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        check_every_way_of_building_the_views_agrees(
            postgres_schemas(),
            str(Path(folder) / "views.db"),
            str(Path(folder) / "fresh-views.db"),
            history,
            plan,
            size,
        )


def test_a_second_catch_up_reads_nothing_and_changes_nothing(
    projector: Projector, job_ledger: JobLedger
) -> None:
    handle = job_ledger.submit("c47", "nightly-publish", PUBLISH, at=at(0))
    job_ledger.start(handle, "ips-app-01", at=at(1))
    assert projector.catch_up() == 2
    before = stored_rows(projector.db)

    assert projector.catch_up() == 0
    assert stored_rows(projector.db) == before


@pytest.mark.parametrize("size", [1, 2, 7])
def test_a_catch_up_stopped_between_batches_resumes_where_it_stopped(
    projector: Projector, job_ledger: JobLedger, size: int
) -> None:
    for i in range(5):
        handle = job_ledger.submit("c47", f"job-{i}", OPTIMIZE, at=at(i))
        job_ledger.start(handle, "ips-app-01", at=at(10 + i))
    stop = _StopAfterFirstBatch()

    with batch_size(size):
        first = projector.catch_up(progress=stop.batch_done, stop=stop)
        rest = projector.catch_up()

    assert first == size
    assert first + rest == job_ledger.event_count()
    assert stored_rows(projector.db) == folded_rows(projector)


class _StopAfterFirstBatch:
    """A stop flag that is set once the first batch has been written (a fake threading.Event)."""

    def __init__(self) -> None:
        self.done = False

    def batch_done(self, count: int) -> None:
        self.done = True

    def is_set(self) -> bool:
        return self.done
