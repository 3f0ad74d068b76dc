"""Whatever the ledger accepted, every view reads (issue 15.4): random sequences of commands over the
full ranges of times (both ends, in zones up to 14 hours either side of UTC) and integers are sent
through the Python API to a real SQLite ledger, which stores only the ones it accepts; then the
views catch up, verify, answer every query, now and as of any time, and the CLI renders them."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from unittest import mock

from cli_checks import explain
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from samples import OPTIMIZE

from jobledger.cli import timefmt
from jobledger.cli.main import cli
from jobledger.domain.errors import LedgerError
from jobledger.domain.events import Counters, JobLogDetailAux, TaskItemProgress, TaskProgress
from jobledger.domain.limits import EARLIEST, LATEST, MAX_COUNT
from jobledger.domain.payloads import decode_payload
from jobledger.projections import queries
from jobledger.projections.asof import views_as_of
from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector
from jobledger.service.scheduler import tick

PAYLOAD = decode_payload("optimizeImagesJob", OPTIMIZE)
ZONES: list[tzinfo] = [UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-14))]
ZONES.append(timezone(timedelta(hours=5, minutes=45)))

_instants = st.one_of(
    st.sampled_from([EARLIEST, LATEST, EARLIEST + timedelta(seconds=1), LATEST - timedelta(seconds=1)]),
    st.datetimes(
        min_value=EARLIEST.replace(tzinfo=None), max_value=LATEST.replace(tzinfo=None), timezones=st.just(UTC)
    ),
    st.datetimes(  # the present, where most runs live: ETAs from reports far apart
        min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
    ),
)
# Any time in the range, written in any zone (the extremes as +14:00 and -14:00 times included).
times = st.builds(lambda moment, zone: moment.astimezone(zone), _instants, st.sampled_from(ZONES))
counts = st.one_of(st.sampled_from([0, 1, MAX_COUNT - 1, MAX_COUNT]), st.integers(0, MAX_COUNT))
maybe_times = st.none() | times

tasks = st.lists(
    st.builds(
        TaskProgress,
        taskType=st.just("Optimize"),
        numProcessed=counts,
        numProcessing=counts,
        numPending=counts,
        progress=st.floats(0.0, 1.0),
        lastProgressUpdate=maybe_times,
        taskItemProgressArray=st.lists(
            st.builds(TaskItemProgress, itemName=st.just("a.jpg"), lastProgressUpdate=maybe_times), max_size=1
        ),
    ),
    max_size=2,
)
aux = st.lists(
    st.builds(
        JobLogDetailAux, logMessage=st.just("m"), logType=st.just("UploadWarning"), dateCreated=maybe_times
    ),
    max_size=2,
)
counters = st.none() | st.builds(Counters, **{name: counts for name in Counters.__struct_fields__})
runs = st.integers(0, 3)  # which of the runs submitted so far a command is about

operations = st.one_of(
    st.tuples(st.just("submit"), times),
    st.tuples(
        st.just("schedule"),
        times,
        st.one_of(times, st.sampled_from(["0 0 23 * * ?", "0 */30 * * * ?", "59 59 23 31 12 ?"])),
        st.sampled_from(["UTC", "Etc/GMT+12", "Etc/GMT-14", "Pacific/Kiritimati"]),
    ),
    st.tuples(st.just("start"), times, runs, counts),
    st.tuples(st.just("progress"), times, runs, st.integers(0, 100), tasks),
    st.tuples(
        st.just("log"), times, runs, st.sampled_from(["UploadSuccess", "UploadError", "FileUpdated"]), aux
    ),
    st.tuples(st.just("complete"), times, runs, counters, st.booleans()),
    st.tuples(st.just("stop"), times, runs),
    st.tuples(st.just("delete"), times, runs),
    st.tuples(st.just("tick"), times),
)
# In time order, as a runner reports (most commands are then accepted); ties keep the drawn order.
histories = st.lists(operations, min_size=1, max_size=14).map(
    lambda ops: sorted(ops, key=lambda op: op[1].astimezone(UTC))
)


# The edges a random history rarely finds: a tick at the end of the range whose next fire time, at
# 23:00 at UTC-12, would fall on 9999-12-31 in UTC; a schedule whose only time is past the calendar
# in UTC; and an ETA extrapolated to the last day of the calendar, rendered at UTC+14.
NEXT_FIRE_PAST_THE_RANGE = [
    ("schedule", EARLIEST, "0 0 23 * * ?", "Etc/GMT+12"),
    ("schedule", EARLIEST, "59 59 23 31 12 ?", "Etc/GMT+12"),
    ("tick", LATEST),
]
ETA_PAST_THE_RANGE = [
    ("submit", LATEST - timedelta(days=3)),
    ("start", LATEST - timedelta(days=3), 0, 10),
    ("progress", LATEST - timedelta(days=2), 0, 1, []),
    ("progress", LATEST - timedelta(days=1, seconds=1), 0, 40, []),
]


def _send(ledger: JobLedger, projector: Any, handles: list[str], op: tuple[Any, ...]) -> None:
    kind, at = op[0], op[1]
    if kind == "submit":
        handles.append(ledger.submit("acme", f"run{len(handles)}", PAYLOAD, at=at))
        return
    if kind == "schedule":
        when = {"exec_time": op[2]} if isinstance(op[2], datetime) else {"exec_schedule": op[2]}
        ledger.submit("acme", f"every{len(handles)}", PAYLOAD, **when, time_zone=op[3], at=at)
        return
    if kind == "tick":
        handles.extend(tick(ledger, projector, at=at, force=True))
        return
    if not handles:
        return
    handle = handles[op[2] % len(handles)]
    if kind == "start":
        ledger.start(handle, "srv1", total_size=op[3], at=at)
    elif kind == "progress":
        ledger.update_progress(handle, op[3], tasks=op[4], at=at)
    elif kind == "log":
        ledger.log_detail(handle, op[3], "m", asset_name="a.jpg", aux=op[4], at=at)
    elif kind == "complete":
        ledger.complete(handle, counters=op[3], fatal=op[4], at=at)
    elif kind == "stop":
        ledger.stop(handle, at=at)
    else:
        ledger.delete(handle, at=at)


@contextmanager
def _local_zone(zone: tzinfo) -> Iterator[None]:
    with mock.patch.object(timefmt, "zone", lambda: zone):
        yield


def _cli(db: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", db, *args], env={"JOBLEDGER_DB": None, "JOBLEDGER_VIEWS": None})
    assert result.exit_code == 0, explain(result)
    return result.stdout


def test_every_view_reads_whatever_was_accepted_at_the_ends_of_every_range() -> None:
    seen = {"stored": 0, "refused": 0, "year 1": 0, "year 9999": 0}

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(history=histories, local=st.sampled_from(ZONES), as_of=times)
    @example(history=NEXT_FIRE_PAST_THE_RANGE, local=ZONES[1], as_of=LATEST)
    @example(history=ETA_PAST_THE_RANGE, local=ZONES[1], as_of=LATEST)
    def one_history(history: list[tuple[Any, ...]], local: tzinfo, as_of: datetime) -> None:
        with tempfile.TemporaryDirectory() as folder:
            db = str(Path(folder) / "ledger.db")
            with JobLedger(db, max_clock_skew=None) as ledger:
                projector = open_projector(ledger)
                handles: list[str] = []
                for op in history:
                    before = ledger.head_position()
                    try:
                        _send(ledger, projector, handles, op)
                    except LedgerError:  # refused: nothing stored, and the next command goes on
                        assert ledger.head_position() == before
                        seen["refused"] += 1
                    else:
                        seen["stored"] += ledger.head_position() > before
                for event in map(ledger.reader.decode, ledger.reader.stored()):
                    seen["year 1"] += event.timestamp.year == 1
                    seen["year 9999"] += event.timestamp.year == 9999
                projector.catch_up()

                assert projector.verify() == []
                for views in (projector.db, views_as_of(projector, as_of)):
                    queries.active_jobs(views, include_waiting=True)
                    queries.scheduled_jobs(views)
                    queries.job_logs(views, since=as_of, until=LATEST)
                    queries.job_logs(
                        views, since=EARLIEST.astimezone(ZONES[1]), until=LATEST.astimezone(ZONES[2])
                    )
                    for handle in handles[:2]:
                        if _has(views, handle):
                            queries.job_log_details(views, handle)
            with _local_zone(local):
                _cli(db, "active", "--include-waiting", "--wide")
                _cli(db, "logs", "--deleted", "--format", "csv")
                _cli(db, "logs", "--as-of", as_of.isoformat())
                _cli(db, "scheduled")
                for handle in handles[:1]:
                    _cli(db, "details", handle)
                    _cli(db, "history", handle)

    one_history()
    assert all(seen.values()), seen


def _has(views: Any, handle: str) -> bool:
    return bool(views.query("SELECT 1 FROM job_logs WHERE jobHandle = ?", (handle,)))
