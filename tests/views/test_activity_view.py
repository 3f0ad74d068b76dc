"""The activity view: runs started, runs finished by outcome, and run events, per company and minute.

A run's outcome and company are facts of the run, not of each event (the view is RUN_AWARE), so
every way of folding (catching up in batches of any size, a rebuild, a plain fold) must hand the
view the same facts; and a naive count straight from each run's history must agree with them all.
"""

from __future__ import annotations

import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from samples import at
from views_support import OPTIMIZE, PUBLISH, UPLOAD, batch_size, invoke

from jobledger.domain.errors import RuleError
from jobledger.domain.events import Completed, Counters, JobEvent, Started
from jobledger.projections import queries
from jobledger.projections.activity import minute_of, minute_text
from jobledger.projections.database import ViewsDatabase
from jobledger.projections.runner import Projector, fold_view
from jobledger.projections.views import VIEWS
from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector

ACTIVITY = VIEWS["activity"]
COUNTS = ("events", "started", "success", "warnings", "errors", "fatal", "stopped")
Table = dict[str, tuple[int, ...]]  # row id ("YYYY-MM-DDTHH:MM|company") -> the counts, in COUNTS order


def stored(db: ViewsDatabase) -> Table:
    """The activity rows as stored."""
    columns = ", ".join(f"[{name}]" for name in COUNTS)
    return {row[0]: tuple(row[1:]) for row in db.query(f"SELECT id, {columns} FROM activity", ())}


def folded(projector: Projector) -> Table:
    """The activity rows of one plain fold of every event."""
    rows = fold_view(ACTIVITY, projector.events())
    return {key[0]: tuple(getattr(row, name) for name in COUNTS) for key, row in rows.items()}


def counted(ledger: JobLedger, handles: list[str]) -> Table:
    """The activity, counted naively from each run's history and its final outcome."""
    table: dict[str, list[int]] = {}
    for handle in handles:
        run = ledger.get_job(handle)
        for event in ledger.history(handle):
            assert isinstance(event, JobEvent)
            row = table.setdefault(
                f"{minute_of(event.timestamp):%Y-%m-%dT%H:%M}|{run.companyHandle}", [0] * 7
            )
            row[0] += 1
            if isinstance(event, Started):
                row[1] += 1
            elif isinstance(event, Completed):
                assert run.outcome is not None
                row[COUNTS.index(run.outcome)] += 1
    return {key: tuple(values) for key, values in table.items()}


# --- one history of every outcome, counted by hand -------------------------------------------------


def every_outcome(ledger: JobLedger) -> list[str]:
    """Runs of c1 and c2 that end in every way, between 09:00 and 09:03 (T0 is 09:00:00); and
    events that are not a run's (a token, a schedule, an idempotency key), which never count."""
    ok = ledger.submit("c1", "ok", OPTIMIZE, at=at(0))
    warned = ledger.submit("c1", "warned", UPLOAD, at=at(1))
    fatal = ledger.submit("c1", "fatal", OPTIMIZE, at=at(2))
    waiting = ledger.submit("c1", "waiting", PUBLISH, at=at(3))
    counted_warnings = ledger.submit("c2", "counted-warnings", OPTIMIZE, at=at(4))
    failed = ledger.submit("c2", "failed", UPLOAD, at=at(5))
    stopped = ledger.submit("c2", "stopped", OPTIMIZE, at=at(6))
    deleted = ledger.submit("c2", "deleted", OPTIMIZE, at=at(7))
    ledger.create_token("c1", "IpsUser")
    schedule = ledger.submit("c1", "nightly", OPTIMIZE, exec_schedule="0 0 3 * * ?", at=at(8))
    ledger.pause(schedule, at=at(9))
    ledger.start(ok, "app-1", at=at(10))

    keyed = ledger.submit("c1", "keyed", OPTIMIZE, idempotency_key="k1", at=at(60))
    ledger.start(warned, "app-1", at=at(61))
    ledger.log_detail(warned, "UploadWarning", "boot.tif has no profile", at=at(62))
    ledger.start(fatal, "app-2", at=at(63))
    ledger.start(counted_warnings, "app-2", at=at(64))
    ledger.update_progress(ok, 50, at=at(65))
    ledger.start(failed, "app-3", at=at(66))
    ledger.log_detail(failed, "UploadError", "scarf.tif is not an image", at=at(67))
    ledger.start(stopped, "app-3", at=at(68))
    ledger.start(deleted, "app-4", at=at(69))
    ledger.complete(ok, at=at(70))

    ledger.complete(warned, at=at(125))
    ledger.complete(fatal, fatal=True, message="disk full", at=at(126))
    counters = Counters(fileSuccessCount=1, fileWarningCount=1, totalFileCount=2)
    ledger.complete(counted_warnings, counters=counters, at=at(127))
    ledger.complete(failed, at=at(128))
    ledger.request_stop(stopped, reason="wrong folder", at=at(129))

    ledger.complete(stopped, at=at(185))
    ledger.delete(deleted, at=at(186))  # a live run: stopped and ended first
    fired = ledger.execute(schedule, at=at(187))
    return [ok, warned, fatal, waiting, counted_warnings, failed, stopped, deleted, keyed, fired]


# (events, started, success, warnings, errors, fatal, stopped) per minute and company.
EVERY_OUTCOME: Table = {
    "2026-01-01T09:00|c1": (5, 1, 0, 0, 0, 0, 0),  # four submits, ok started
    "2026-01-01T09:00|c2": (4, 0, 0, 0, 0, 0, 0),  # four submits
    "2026-01-01T09:01|c1": (6, 2, 1, 0, 0, 0, 0),  # keyed submitted, two starts, a detail, progress, ok done
    "2026-01-01T09:01|c2": (5, 4, 0, 0, 0, 0, 0),  # four starts, a detail
    "2026-01-01T09:02|c1": (2, 0, 0, 1, 0, 1, 0),  # warned (a detail row) and fatal done
    "2026-01-01T09:02|c2": (3, 0, 0, 1, 1, 0, 0),  # warnings (counters) and errors done, a stop asked
    "2026-01-01T09:03|c1": (1, 0, 0, 0, 0, 0, 0),  # the schedule's run submitted (not the Fired)
    "2026-01-01T09:03|c2": (4, 0, 0, 0, 0, 0, 2),  # stopped done; deleted: stop, end, delete
}


def test_every_outcome_lands_in_its_company_and_minute(job_ledger: JobLedger, projector: Projector) -> None:
    handles = every_outcome(job_ledger)
    assert projector.catch_up() == job_ledger.event_count()
    assert stored(projector.db) == EVERY_OUTCOME
    assert counted(job_ledger, handles) == EVERY_OUTCOME
    assert folded(projector) == EVERY_OUTCOME


def test_only_the_events_of_runs_are_counted(job_ledger: JobLedger, projector: Projector) -> None:
    handles = every_outcome(job_ledger)
    projector.catch_up()
    run_events = sum(len(job_ledger.history(handle)) for handle in handles)
    assert sum(row[0] for row in stored(projector.db).values()) == run_events
    assert job_ledger.event_count() > run_events  # tokens, the schedule, the key: not counted


def test_catch_up_in_any_batch_size_a_rebuild_and_verify_agree(
    job_ledger: JobLedger, projector: Projector, tmp_path: Path
) -> None:
    every_outcome(job_ledger)
    for size in (1, 2, 3, 7):
        fresh = open_projector(job_ledger, str(tmp_path / f"views-{size}.db"))
        try:
            with batch_size(size):
                assert fresh.catch_up() == job_ledger.event_count()
            assert stored(fresh.db) == EVERY_OUTCOME, size
        finally:
            fresh.db.close()

    projector.catch_up()
    assert projector.rebuild() == job_ledger.event_count()
    assert stored(projector.db) == EVERY_OUTCOME
    assert projector.rebuild(["activity"]) == job_ledger.event_count()
    assert stored(projector.db) == EVERY_OUTCOME
    assert projector.verify() == []


def test_the_cli_verify_finds_the_activity_view_clean_and_a_changed_row(
    job_ledger: JobLedger, projector: Projector, ledger_file: str
) -> None:
    every_outcome(job_ledger)
    projector.catch_up()
    result = invoke("--db", ledger_file, "projections", "verify")
    assert result.exit_code == 0 and "all views match" in result.stdout, result.output

    with projector.db.writing():
        projector.db.conn.execute(
            "UPDATE activity SET stopped = stopped + 1 WHERE id = '2026-01-01T09:03|c2'"
        )
    (difference,) = projector.verify()
    assert difference.view == "activity" and difference.key == ("2026-01-01T09:03|c2",)
    assert difference.live is not None and difference.rebuilt is not None
    assert (difference.live["stopped"], difference.rebuilt["stopped"]) == (3, 2)
    assert invoke("--db", ledger_file, "projections", "verify").exit_code == 1


def test_a_run_finished_in_a_later_batch_counts_its_outcome_once(
    job_ledger: JobLedger, projector: Projector
) -> None:
    # The run's facts are read from job_logs after each batch: before the end, it has no outcome.
    handle = job_ledger.submit("c1", "slow", UPLOAD, at=at(0))
    job_ledger.start(handle, "app-1", at=at(1))
    job_ledger.log_detail(handle, "UploadError", "bad", at=at(2))
    projector.catch_up()
    assert stored(projector.db) == {"2026-01-01T09:00|c1": (3, 1, 0, 0, 0, 0, 0)}
    job_ledger.complete(handle, at=at(3))
    projector.catch_up()
    job_ledger.delete(handle, at=at(4))  # after the end: one more event, no second outcome
    projector.catch_up()
    assert stored(projector.db) == {"2026-01-01T09:00|c1": (5, 1, 0, 0, 1, 0, 0)}
    assert projector.verify() == []


def test_a_rebuild_of_the_activity_view_alone_folds_the_events_appended_meanwhile(
    job_ledger: JobLedger, projector: Projector
) -> None:
    handle = job_ledger.submit("c1", "ok", OPTIMIZE, at=at(0))
    job_ledger.start(handle, "app-1", at=at(1))
    projector.catch_up()

    def append_meanwhile(read: int) -> None:
        job_ledger.complete(handle, at=at(2))

    projector.rebuild(["activity"], progress=append_meanwhile)
    assert stored(projector.db) == {"2026-01-01T09:00|c1": (3, 1, 1, 0, 0, 0, 0)}
    assert projector.verify() == []


# --- the query -------------------------------------------------------------------------------------


def test_the_query_sums_the_companies_unless_one_is_asked_for(
    job_ledger: JobLedger, projector: Projector
) -> None:
    every_outcome(job_ledger)
    projector.catch_up()
    db = projector.db

    every = queries.activity(db, at(0))
    assert [row["minute"] for row in every] == [at(0), at(60), at(120), at(180)]
    totals = {row["minute"]: tuple(row[name] for name in COUNTS) for row in every}
    for minute, sums in totals.items():
        key = f"{minute:%Y-%m-%dT%H:%M}"
        by_company = [counts for name, counts in EVERY_OUTCOME.items() if name.startswith(key)]
        assert sums == tuple(map(sum, zip(*by_company, strict=True)))
    assert totals[at(180)] == (5, 0, 0, 0, 0, 0, 2)

    c2 = queries.activity(db, at(0), "c2")
    assert [(row["minute"], row["started"], row["stopped"]) for row in c2] == [
        (at(0), 0, 0),
        (at(60), 4, 0),
        (at(120), 0, 0),
        (at(180), 0, 2),
    ]
    assert [row["minute"] for row in queries.activity(db, at(120))] == [at(120), at(180)]
    assert [row["minute"] for row in queries.activity(db, at(121))] == [at(180)]  # whole minutes from since
    assert queries.activity(db, at(240)) == []
    assert queries.activity(db, at(0), "nobody") == []


# --- any history -----------------------------------------------------------------------------------

LOG_TYPES = ["UploadSuccess", "UploadWarning", "UploadError", "FatalError", "BeginUpload"]
ENDS = ["success", "warned", "counted-warnings", "failed", "fatal", "stopped", "deleted", "live"]
run = st.integers(min_value=0, max_value=20)  # counted back from the latest run
step = st.one_of(
    st.tuples(st.just("submit"), st.integers(0, 2)),
    st.tuples(st.just("start"), run),
    st.tuples(st.just("progress"), run),
    st.tuples(st.just("log"), run, st.sampled_from(LOG_TYPES)),
    st.tuples(st.just("stop"), run),
    st.tuples(st.just("complete"), run, st.booleans(), st.sampled_from([None, "warned", "failed"])),
    st.tuples(st.just("delete"), run),
    st.tuples(st.just("wait"), st.integers(1, 150)),  # the clock moves on, across minutes
    st.tuples(st.just("catch-up")),
)
# One run from its submit to its end, its steps `gap` seconds apart: every outcome, often.
lifecycle = st.tuples(st.just("lifecycle"), st.integers(0, 2), st.sampled_from(ENDS), st.integers(1, 90))
operations = st.tuples(
    st.lists(lifecycle, min_size=2, max_size=6), st.lists(step, min_size=3, max_size=40)
).flatmap(lambda drawn: st.permutations([*drawn[0], *drawn[1]]))
COUNTERS = {
    None: None,
    "warned": Counters(fileSuccessCount=2, fileWarningCount=1, totalFileCount=3),
    "failed": Counters(fileErrorCount=1, totalFileCount=1),
}


def play(ledger: JobLedger, projector: Projector, history: list[tuple[Any, ...]]) -> list[str]:
    """Every operation through the ledger API (a broken rule changes nothing), the projector
    catching up between them where the history says; the handles of the runs."""
    handles: list[str] = []
    clock = 0.0
    for op in history:
        kind = op[0]
        if kind == "wait":
            clock += op[1]
            continue
        if kind == "catch-up":
            projector.catch_up()
            continue
        clock += 1
        if kind == "submit":
            handles.append(ledger.submit(f"c{op[1]}", "run", OPTIMIZE, at=at(clock)))
            continue
        if kind == "lifecycle":
            handles.append(ledger.submit(f"c{op[1]}", "life", UPLOAD, at=at(clock)))
            clock = live_through(ledger, handles[-1], op[2], clock, op[3])
            continue
        if not handles:
            continue
        handle = handles[-1 - op[1] % len(handles)]
        with suppress(RuleError):
            if kind == "start":
                ledger.start(handle, "app-1", at=at(clock))
            elif kind == "progress":
                ledger.update_progress(handle, 50, at=at(clock))
            elif kind == "log":
                ledger.log_detail(handle, op[2], "a file", at=at(clock))
            elif kind == "stop":
                ledger.request_stop(handle, at=at(clock))
            elif kind == "complete":
                ledger.complete(handle, fatal=op[2], counters=COUNTERS[op[3]], at=at(clock))
            elif kind == "delete":
                ledger.delete(handle, at=at(clock))
    return handles


def live_through(ledger: JobLedger, handle: str, end: str, clock: float, gap: int) -> float:
    """Start a run, log a row, and end it as `end` says; the clock after."""
    middle = {"warned": "UploadWarning", "failed": "UploadError", "fatal": "FatalError", "stopped": None}
    ledger.start(handle, "app-2", at=at(clock + gap))
    clock += 2 * gap
    log_type = middle.get(end, "UploadSuccess")
    if log_type is None:
        ledger.request_stop(handle, at=at(clock))
    else:
        ledger.log_detail(handle, log_type, "a file", at=at(clock))
    clock += gap
    if end == "deleted":
        ledger.delete(handle, at=at(clock))
    elif end == "counted-warnings":
        ledger.complete(handle, counters=COUNTERS["warned"], at=at(clock))
    elif end != "live":
        ledger.complete(handle, at=at(clock))
    return clock


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=operations, size=st.integers(min_value=1, max_value=5))
def test_for_any_history_catch_up_a_rebuild_a_fold_and_a_count_agree(
    history: list[tuple[Any, ...]], size: int
) -> None:
    with tempfile.TemporaryDirectory() as folder, JobLedger(str(Path(folder) / "ledger.db")) as ledger:
        projector = open_projector(ledger)
        try:
            with batch_size(size):
                handles = play(ledger, projector, history)
                projector.catch_up()
            live = stored(projector.db)
            assert live == counted(ledger, handles)
            assert live == folded(projector)
            with batch_size(size):
                projector.rebuild()
            assert stored(projector.db) == live
            assert projector.rebuild(["activity"]) == ledger.event_count()
            assert stored(projector.db) == live
            assert projector.verify() == []
        finally:
            projector.db.close()


@given(st.datetimes(timezones=st.one_of(st.none(), st.timezones())))
def test_a_minute_is_named_as_strftime_names_it(moment: Any) -> None:
    assert minute_text(moment) == f"{minute_of(moment):%Y-%m-%dT%H:%M}"
