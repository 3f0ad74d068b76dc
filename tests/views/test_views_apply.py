"""Each view's `apply` for every event type, and the ETA rule on synthetic progress series."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from views_support import (
    RUN_ID,
    UPLOAD,
    at,
    completed,
    deleted,
    key_claimed,
    logged,
    progressed,
    started,
    stop_requested,
    submitted,
)

from jobledger.domain.events import DomainEvent
from jobledger.projections import active_jobs, job_log_details, job_logs
from jobledger.projections.active_jobs import ActiveJobRow, estimate
from jobledger.projections.job_log_details import JobLogDetailRow
from jobledger.projections.runner import fold_view
from jobledger.projections.views import VIEWS


def fold(apply: Callable[[Any, DomainEvent], Any], events: Sequence[DomainEvent]) -> Any:
    """The row after applying each event in turn, starting from no row."""
    row = None
    for event in events:
        row = apply(row, event)
    return row


# A live run: submitted, started, 10% done, one detail row, asked to stop (versions 1 to 5).
HISTORY = [submitted(), started(), progressed(3, 120, 10), logged(4, 130), stop_requested(5, 160)]

# --- active_jobs -------------------------------------------------------------------------------


def test_a_submitted_run_appears_in_active_jobs_as_new_with_every_active_job_field() -> None:
    row = active_jobs.apply(None, submitted())

    assert isinstance(row, ActiveJobRow)
    assert (row.id, row.version, row.state) == (RUN_ID, 1, "New")
    assert (row.companyHandle, row.jobHandle, row.originalName) == (
        "c47",
        "c47||spring-upload_2026-01-01-09:00:00",
        "spring-upload",
    )
    assert (row.type, row.submitUserEmail, row.locale, row.description) == (
        "UploadFromServerDirectory",
        "ana.ribeiro@example.com",
        "en-US",
        "spring",
    )
    assert row.payload == UPLOAD
    assert row.triggerTime == at(0)
    assert (row.serverName, row.startDate, row.progress, row.eta) == ("", None, 0, None)


@pytest.mark.parametrize(
    ("history", "check"),
    [
        pytest.param(
            [*HISTORY[:1], started()],
            lambda row: (
                (row.state, row.serverName, row.startDate, row.totalSize)
                == ("Running", "ips-app-01", at(60), 5000)
            ),
            id="Started-makes-it-Running-on-its-server",
        ),
        pytest.param(
            [*HISTORY[:2], progressed(3, 120, 10)],
            lambda row: (
                (row.progress, row.progressMessage, row.lastProgressUpdate, row.eta)
                == (10, "10% uploaded", at(120), None)
                and [t.taskType for t in row.taskProgressArray] == ["Upload"]
            ),
            id="ProgressUpdated-sets-progress-and-tasks",
        ),
        pytest.param(
            [*HISTORY[:3], logged(4, 130)],
            lambda row: (
                (row.state, row.version, row.fileWarningCount, row.detailTotalRows) == ("Running", 4, 1, 1)
            ),
            id="DetailLogged-keeps-the-run-and-counts-the-row",
        ),
        pytest.param(
            [*HISTORY[:4], stop_requested(5, 160)],
            lambda row: (row.state, row.stopRequested, row.stopReason) == ("Stopping", True, "wrong folder"),
            id="StopRequested-makes-it-Stopping",
        ),
    ],
)
def test_a_live_run_stays_in_active_jobs_with_the_event_applied(
    history: list[DomainEvent], check: Callable[[ActiveJobRow], bool]
) -> None:
    row = fold(active_jobs.apply, history)

    assert isinstance(row, ActiveJobRow)
    assert row.version == history[-1].originator_version
    assert check(row)


@pytest.mark.parametrize(
    "history",
    [
        pytest.param([*HISTORY, completed(6, 200)], id="Completed-after-a-stop"),
        pytest.param([submitted(), started(), completed(3, 200)], id="Completed-while-running"),
        pytest.param([submitted(), started(), completed(3, 200, fatal=True)], id="Completed-fatally"),
        pytest.param([submitted(), deleted(2, 10)], id="Deleted-while-new"),
        pytest.param([*HISTORY, completed(6, 200), deleted(7, 300)], id="Deleted-after-Done"),
    ],
)
def test_active_jobs_removes_a_run_once_it_is_done_or_deleted(history: list[DomainEvent]) -> None:
    assert fold(active_jobs.apply, history) is None


@pytest.mark.parametrize(
    "late",
    [
        pytest.param(started(7, 400), id="Started"),
        pytest.param(progressed(7, 400, 90), id="ProgressUpdated"),
        pytest.param(logged(7, 400), id="DetailLogged"),
        pytest.param(stop_requested(7, 400), id="StopRequested"),
        pytest.param(completed(7, 400), id="Completed"),
        pytest.param(deleted(7, 400), id="Deleted"),
    ],
)
def test_a_removed_run_never_comes_back_to_active_jobs(late: DomainEvent) -> None:
    gone = fold(active_jobs.apply, [*HISTORY, completed(6, 200)])

    assert gone is None
    assert active_jobs.apply(gone, late) is None


def test_a_plain_fold_of_active_jobs_drops_the_row_of_a_done_run() -> None:
    rows = fold_view(VIEWS["active_jobs"], enumerate([*HISTORY, completed(6, 200)], 1))

    assert rows == {}


# --- job_logs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        pytest.param(
            HISTORY[:1],
            {"state": "New", "jobName": "spring-upload_2026-01-01-09:00:00", "logType": "BeginUpload"},
            id="Submitted-opens-the-log",
        ),
        pytest.param(HISTORY[:2], {"state": "Running", "startDate": at(60)}, id="Started"),
        pytest.param(HISTORY[:3], {"progress": 10, "endDate": None}, id="ProgressUpdated"),
        pytest.param(
            HISTORY[:4],
            {"fileWarningCount": 1, "totalFileCount": 1, "detailTotalRows": 1},
            id="DetailLogged-counts-the-row",
        ),
        pytest.param(HISTORY, {"state": "Stopping", "outcome": None}, id="StopRequested"),
        pytest.param(
            [*HISTORY, completed(6, 200)],
            {"state": "Done", "outcome": "stopped", "endDate": at(200), "fileSuccessCount": 3},
            id="Completed-keeps-the-run-with-outcome-and-endDate",
        ),
        pytest.param(
            [submitted(), started(), completed(3, 200, fatal=True)],
            {"state": "Done", "outcome": "fatal", "fatalError": True, "endDate": at(200)},
            id="Completed-fatally",
        ),
        pytest.param(
            [*HISTORY, completed(6, 200), deleted(7, 300)],
            {"state": "Done", "deleted": True, "outcome": "stopped", "endDate": at(200)},
            id="Deleted-keeps-the-run-with-outcome-and-endDate",
        ),
    ],
)
def test_job_logs_keeps_one_row_per_run_through_every_event(
    history: list[DomainEvent], expected: dict[str, Any]
) -> None:
    row = fold(job_logs.apply, history)

    assert row is not None
    assert row.id == RUN_ID
    assert row.version == history[-1].originator_version
    assert {name: getattr(row, name) for name in expected} == expected


def test_job_logs_and_active_jobs_agree_on_a_live_run() -> None:
    log_row = fold(job_logs.apply, HISTORY)
    active_row = fold(active_jobs.apply, HISTORY)

    shared = set(log_row.__struct_fields__)
    assert {name: getattr(active_row, name) for name in shared} == {
        name: getattr(log_row, name) for name in shared
    }


# --- job_log_details ---------------------------------------------------------------------------


def test_a_detail_logged_event_writes_one_detail_row_with_its_fields() -> None:
    event = logged(4, 130)

    row = job_log_details.apply(None, event)

    assert row == JobLogDetailRow(
        jobId=RUN_ID,
        version=4,
        logType="UploadWarning",
        logMessage="boot.tif has no profile",
        dateCreated=at(130),
        assetName="boot.tif",
        assetType="MasterImage",
        assetHandle="a|boot",
        auxArray=event.auxArray,
    )
    assert job_log_details.key(event) == (RUN_ID.hex, 4)


def test_each_detail_logged_event_is_a_row_of_its_own() -> None:
    events = [*HISTORY[:3], logged(4, 130), logged(5, 131, "UploadSuccess"), logged(6, 132)]

    rows = fold_view(VIEWS["job_log_details"], enumerate(events, 1))

    assert sorted(rows) == [(RUN_ID.hex, 4), (RUN_ID.hex, 5), (RUN_ID.hex, 6)]
    assert [rows[key].logType for key in sorted(rows)] == ["UploadWarning", "UploadSuccess", "UploadWarning"]


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(submitted(), id="Submitted"),
        pytest.param(started(), id="Started"),
        pytest.param(progressed(3, 120, 10), id="ProgressUpdated"),
        pytest.param(stop_requested(5, 160), id="StopRequested"),
        pytest.param(completed(6, 200), id="Completed"),
        pytest.param(deleted(7, 300), id="Deleted"),
    ],
)
def test_job_log_details_writes_no_row_for_events_other_than_detail_logged(event: DomainEvent) -> None:
    assert job_log_details.key(event) is None
    assert job_log_details.apply(None, event) is None


def test_detail_rows_outlive_the_deletion_of_their_run() -> None:
    events = [*HISTORY, completed(6, 200), deleted(7, 300)]

    rows = fold_view(VIEWS["job_log_details"], enumerate(events, 1))

    assert list(rows) == [(RUN_ID.hex, 4)]


# --- every view ignores an idempotency key claim -----------------------------------------------


@pytest.mark.parametrize("name", ["active_jobs", "job_logs", "job_log_details"])
def test_every_view_ignores_an_idempotency_key_claim(name: str) -> None:
    view = VIEWS[name]
    row = fold(view.apply, HISTORY) if view.folds_rows else job_log_details.apply(None, logged(4, 130))

    assert view.key(key_claimed()) is None
    assert view.apply(row, key_claimed()) is row
    assert view.apply(None, key_claimed()) is None


# --- ETA ---------------------------------------------------------------------------------------


def series(points: Sequence[tuple[float, int]]) -> list[datetime | None]:
    """The active_jobs ETA after each (seconds, percent) progress point of a run started at t=0."""
    row = fold(active_jobs.apply, [submitted(seconds=-10), started(seconds=-5)])
    etas = []
    for version, (seconds, percent) in enumerate(points, start=3):
        row = active_jobs.apply(row, progressed(version, seconds, percent))
        etas.append(row.eta)
    return etas


def test_a_single_progress_point_gives_no_eta() -> None:
    assert series([(100, 30)]) == [None]


def test_steady_progress_gives_the_exact_eta() -> None:
    # 1%/s from 20% at t=100: at t=110, 70% to go -> done at t=180, and every later point agrees.
    assert series([(100, 20), (110, 30), (120, 40), (130, 50)]) == [None, at(180), at(180), at(180)]


def test_the_rate_is_measured_from_the_first_point_not_the_last() -> None:
    # 0 -> 10% in 10 s, then 10 -> 20% in 30 s: 20% in 40 s overall, 80% to go -> 160 s after t=40.
    assert series([(0, 0), (10, 10), (40, 20)]) == [None, at(100), at(200)]


def test_progress_standing_still_gives_no_eta() -> None:
    assert series([(0, 30), (10, 30), (20, 30)]) == [None, None, None]


def test_progress_that_stalls_after_moving_pushes_the_eta_out() -> None:
    steady, stalled = series([(0, 0), (10, 10), (30, 10)])[1:]

    assert steady == at(100)
    assert stalled == at(300)


def test_progress_going_backwards_gives_no_eta_and_restarts_from_the_new_point() -> None:
    # 50% -> 30% went backwards, though not below the first point's 10%.
    etas = series([(0, 10), (10, 50), (20, 30), (30, 40), (40, 50)])

    # From t=20 (30%) the series restarts: +10% per 10 s, so at t=30 60% are left -> t=90.
    assert etas == [None, at(22.5), None, at(90), at(90)]


def test_progress_falling_below_the_first_point_gives_no_eta_and_restarts_from_there() -> None:
    etas = series([(0, 20), (10, 60), (20, 10), (30, 20), (40, 30)])

    # From t=20 (10%): +10% per 10 s, so at t=30 80% are left -> t=110.
    assert etas == [None, at(20), None, at(110), at(110)]


def test_reaching_100_percent_makes_the_eta_that_moment() -> None:
    assert series([(0, 10), (10, 50), (25, 100)])[-1] == at(25)
    assert series([(25, 100)]) == [at(25)]


def test_estimate_gives_nothing_from_a_single_point_and_that_moment_at_100_percent() -> None:
    assert estimate(None, None, at(10), 40) == (None, at(10), 40)
    assert estimate(None, None, at(10), 100)[0] == at(10)
    assert estimate(at(0), 20, at(10), 30)[0] == at(80)


def test_an_eta_beyond_the_calendar_is_no_estimate_not_an_error() -> None:
    start = datetime(1, 1, 1, tzinfo=UTC)
    late = datetime(9000, 1, 1, tzinfo=UTC)
    # 1 % in nine thousand years: the other 98 % would end long after 9999-12-31.
    assert estimate(start, 1, late, 2) == (None, start, 1)
    assert estimate(start, 1, datetime.max.replace(tzinfo=UTC), 99)[0] is None


def test_a_time_that_does_not_advance_gives_no_eta() -> None:
    assert series([(10, 10), (10, 20)]) == [None, None]


def test_active_jobs_carries_the_eta_of_the_runs_progress_series() -> None:
    row = fold(
        active_jobs.apply,
        [submitted(), started(), progressed(3, 100, 20), progressed(4, 110, 30)],
    )

    assert row is not None
    assert row.eta == at(180)
    assert (row.etaAnchorTime, row.etaAnchorProgress) == (at(100), 20)


def test_active_jobs_restarts_the_eta_when_progress_goes_backwards() -> None:
    history = [submitted(), started(), progressed(3, 100, 20), progressed(4, 110, 30)]

    backwards = fold(active_jobs.apply, [*history, progressed(5, 120, 10)])
    resumed = active_jobs.apply(backwards, progressed(6, 130, 20))

    assert backwards.eta is None
    assert resumed.eta == at(130) + timedelta(seconds=80)


def test_events_that_are_not_progress_leave_the_eta_alone() -> None:
    row = fold(active_jobs.apply, [submitted(), started(), progressed(3, 100, 20), progressed(4, 110, 30)])

    after = row
    for event in (logged(5, 120), stop_requested(6, 130)):
        after = active_jobs.apply(after, event)

    assert after.eta == at(180)


def test_active_jobs_shows_no_eta_right_after_progress_dropped_from_its_last_point() -> None:
    history = [submitted(), started(), progressed(3, 100, 20), progressed(4, 110, 60)]

    dropped = fold(active_jobs.apply, [*history, progressed(5, 120, 40)])

    assert dropped.progress == 40
    assert dropped.eta is None
