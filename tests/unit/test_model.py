"""The Job aggregate: given past events, when a decision runs, then these events (or this error) come out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import msgspec
import pytest
from domain_support import HANDLE, STATE_ORDER, submitted, then
from samples import MINIMAL_PAYLOADS, at

from jobledger.domain.aggregates import fold
from jobledger.domain.commands import Complete, UpdateProgress
from jobledger.domain.errors import InvalidFieldError, InvalidTransitionError, InvalidValueError, RuleError
from jobledger.domain.events import (
    Completed,
    Counters,
    Deleted,
    DetailLogged,
    JobEvent,
    JobLogDetailAux,
    ProgressUpdated,
    Started,
    StopRequested,
    Submitted,
    TaskProgress,
)
from jobledger.domain.job import (
    Job,
    check_submission,
    decide_complete,
    decide_delete,
    decide_log,
    decide_progress,
    decide_start,
    decide_stop,
    decide_submit,
    evolve,
)
from jobledger.domain.payloads import decode_payload
from jobledger.domain.validation import validate


def running() -> Job:
    """A job started at T0 + 1 s."""
    job = submitted()
    return then(job, decide_start(job, "srv1", 1024, at(1)))


def in_state(state: str) -> Job:
    """A job in the given state (or deleted), its last event at T0 + 2 s at most."""
    if state == "New":
        return submitted()
    job = running()
    if state == "Running":
        return job
    if state == "Stopping":
        return then(job, decide_stop(job, "ops", "maintenance", at(2)))
    if state == "Done":
        return then(job, decide_complete(job, False, "finished", None, at(2)))
    assert state == "deleted"
    return then(job, decide_delete(job, "ops", at(2)))


Decision = Callable[[Job, datetime], list[JobEvent]]

COMMANDS: dict[str, Decision] = {
    "start": lambda job, t: decide_start(job, "srv2", 0, t),
    "progress": lambda job, t: decide_progress(job, 50, "half way", [], t),
    "log": lambda job, t: decide_log(job, "UploadSuccess", "a.jpg uploaded", t),
    "stop": lambda job, t: decide_stop(job, "ops", "", t),
    "complete": lambda job, t: decide_complete(job, False, "", None, t),
    "delete": lambda job, t: decide_delete(job, "ops", t),
}

# The state each command leads to from each state; a missing entry means the command is refused.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("New", "start"): "Running",
    ("New", "log"): "New",
    ("New", "stop"): "Done",
    ("New", "delete"): "Done",
    ("Running", "progress"): "Running",
    ("Running", "log"): "Running",
    ("Running", "stop"): "Stopping",
    ("Running", "complete"): "Done",
    ("Running", "delete"): "Done",
    ("Stopping", "progress"): "Stopping",
    ("Stopping", "log"): "Stopping",
    ("Stopping", "complete"): "Done",
    ("Stopping", "delete"): "Done",
    ("Done", "delete"): "Done",
}
STATES = ("New", "Running", "Stopping", "Done", "deleted")
MATRIX = [(state, name) for state in STATES for name in COMMANDS]


def _matrix_id(case: tuple[str, str]) -> str:
    state, name = case
    verdict = "allowed" if (state, name) in TRANSITIONS else "refused"
    return f"{name}-on-{state}-is-{verdict}"


# --- submit and evolve ---------------------------------------------------------------------------


def test_submit_creates_a_new_run_with_its_activejob_and_joblog_fields() -> None:
    job = submitted()

    assert job.state == "New"
    assert job.version == 1
    assert job.companyHandle == "acme"
    assert job.jobHandle == HANDLE
    assert job.name == job.jobName == "nightly_2026-01-01-09:00:00"
    assert job.originalName == job.originalJobName == "nightly"
    assert job.type == "ImageOptimization"
    assert job.logType == "BeginReoptimize"
    assert job.submitUserEmail == "ops@example.com"
    assert job.locale == "en-US"
    assert job.description == "the nightly optimise"
    assert job.triggerTime == job.submitDate == at(0)
    assert job.outcome is None
    assert job.endDate is None


@pytest.mark.parametrize(
    ("publish_type", "sub_type"),
    [("Full", "full"), ("Incremental", "increment"), ("FullWithSearch", "fullwithsearch")],
)
def test_an_image_serving_publish_gets_the_joblog_sub_type_of_its_publish_type(
    publish_type: str, sub_type: str
) -> None:
    job = submitted("imageServingPublishJob", f'{{"emailSetting": "All", "publishType": "{publish_type}"}}')

    assert job.jobSubType == sub_type
    assert job.type == "ImageServingPublish"


def test_other_job_types_have_no_sub_type() -> None:
    assert submitted("videoPublishJob").jobSubType == ""


def test_started_sets_the_server_the_start_date_and_the_total_size() -> None:
    job = running()

    assert (job.state, job.version) == ("Running", 2)
    assert job.serverName == "srv1"
    assert job.startDate == at(1)
    assert job.totalSize == 1024


def test_progress_updated_sets_progress_message_time_and_tasks() -> None:
    job = running()
    task = TaskProgress(
        taskType="transcode", taskState="Processing", numProcessed=3, numPending=1, progress=0.75
    )

    job = then(job, decide_progress(job, 40, "transcoding", [task], at(5)))

    assert (job.progress, job.progressMessage, job.lastProgressUpdate) == (40, "transcoding", at(5))
    assert job.taskProgressArray == [msgspec.structs.replace(task, lastProgressUpdate=at(5))]
    assert job.state == "Running"


def test_a_task_keeps_its_own_last_progress_update_when_it_gives_one() -> None:
    job = running()
    task = TaskProgress(taskType="transcode", lastProgressUpdate=at(3))

    job = then(job, decide_progress(job, 40, "", [task], at(5)))

    assert job.taskProgressArray[0].lastProgressUpdate == at(3)


def test_each_event_moves_the_version_on_by_one() -> None:
    job = in_state("Stopping")
    job = then(job, decide_progress(job, 90, "", [], at(3)))
    job = then(job, decide_log(job, "UploadSuccess", "a.jpg", at(4)))
    job = then(job, decide_complete(job, False, "", None, at(5)))

    assert job.version == 6


def test_fold_of_no_events_is_no_job() -> None:
    assert fold([]) is None


def test_an_event_before_submitted_cannot_be_folded() -> None:
    started = Started(
        originator_id=submitted().id, originator_version=1, timestamp=at(0), serverName="s", startDate=at(0)
    )

    with pytest.raises(AssertionError):
        evolve(started, None)


# --- the lifecycle: New -> Running -> (Stopping) -> Done, never backwards ----------------------


@pytest.mark.parametrize("case", MATRIX, ids=[_matrix_id(case) for case in MATRIX])
def test_each_command_in_each_state_moves_forward_or_is_refused(case: tuple[str, str]) -> None:
    state, name = case
    job = in_state(state)

    if (state, name) not in TRANSITIONS:
        with pytest.raises(InvalidTransitionError, match=f"it is {state}"):
            COMMANDS[name](job, at(10))
        return

    after = then(job, COMMANDS[name](job, at(10)))
    assert after.state == TRANSITIONS[(state, name)]
    assert STATE_ORDER[after.state] >= STATE_ORDER[job.state]


@pytest.mark.parametrize("name", [name for name in COMMANDS if name != "delete"])
def test_a_done_run_never_changes(name: str) -> None:
    job = in_state("Done")

    with pytest.raises(InvalidTransitionError, match="a finished run never changes"):
        COMMANDS[name](job, at(10))


def test_start_rejects_a_job_that_is_already_running() -> None:
    with pytest.raises(
        InvalidTransitionError, match=r"cannot start job .*: it is Running; a run starts only once"
    ):
        decide_start(running(), "srv2", 0, at(5))


def test_start_rejects_an_empty_server_name() -> None:
    with pytest.raises(RuleError, match="server name must not be empty"):
        decide_start(submitted(), "  ", 0, at(5))


def test_start_rejects_a_negative_total_size() -> None:
    with pytest.raises(RuleError, match="total size must be 0 or more"):
        decide_start(submitted(), "srv1", -1, at(5))


def test_progress_on_a_new_job_says_to_start_it_first() -> None:
    with pytest.raises(InvalidTransitionError, match="start it first"):
        decide_progress(submitted(), 10, "", [], at(5))


@pytest.mark.parametrize("percent", [0, 1, 99, 100])
def test_progress_within_0_to_100_is_accepted(percent: int) -> None:
    job = running()

    assert then(job, decide_progress(job, percent, "", [], at(5))).progress == percent


@pytest.mark.parametrize("percent", [-1, 101, 1000])
def test_progress_outside_0_to_100_is_refused(percent: int) -> None:
    with pytest.raises(RuleError, match=f"progress must be between 0 and 100, got {percent}"):
        decide_progress(running(), percent, "", [], at(5))


@pytest.mark.parametrize("state", ["New", "Done"])
def test_progress_outside_0_to_100_is_refused_as_such_in_any_state(state: str) -> None:
    job = msgspec.structs.replace(running(), state=state)

    with pytest.raises(InvalidValueError, match="progress must be between 0 and 100, got 150"):
        decide_progress(job, 150, "", [], at(5))


@pytest.mark.parametrize(
    ("task", "field"),
    [
        (TaskProgress(taskType="t", progress=1.5), "progress"),
        (TaskProgress(taskType="t", taskState="Paused"), "taskState"),  # type: ignore[arg-type]
        (TaskProgress(taskType="t", numPending=-1), "numPending"),
    ],
    ids=["fraction-above-1", "unknown-task-state", "negative-count"],
)
def test_progress_refuses_a_task_row_that_breaks_its_schema_and_names_the_field(
    task: TaskProgress, field: str
) -> None:
    # Checked with the command, before any rule (domain/validation.py), as every command is.
    with pytest.raises(InvalidFieldError, match=rf"^invalid tasks\[0\]\.{field}: "):
        validate(UpdateProgress(handle="h", percent=10, tasks=[task], at=at(5)))


def test_stop_of_a_new_run_ends_it_at_once_as_stopped() -> None:
    job = submitted()

    events = decide_stop(job, "ops", "not needed", at(5))
    after = then(job, events)

    assert [type(e) for e in events] == [StopRequested, Completed]
    assert [e.originator_version for e in events] == [2, 3]
    assert (after.state, after.outcome, after.endDate) == ("Done", "stopped", at(5))
    assert after.stopReason == "not needed"


def test_stop_of_a_running_run_leaves_it_stopping_until_the_runner_completes_it() -> None:
    job = running()

    after = then(job, decide_stop(job, "ops", "maintenance", at(5)))

    assert (after.state, after.stopRequested, after.outcome) == ("Stopping", True, None)
    done = then(after, decide_complete(after, False, "", None, at(6)))
    assert (done.state, done.outcome) == ("Done", "stopped")


def test_a_second_stop_is_refused_while_the_first_is_under_way() -> None:
    with pytest.raises(InvalidTransitionError, match="a stop is already under way"):
        decide_stop(in_state("Stopping"), "ops", "", at(5))


def test_complete_of_a_new_run_says_to_start_or_stop_it() -> None:
    with pytest.raises(InvalidTransitionError, match="start it first, or stop it"):
        decide_complete(submitted(), False, "", None, at(5))


@pytest.mark.parametrize(
    ("state", "kinds"),
    [
        ("New", [StopRequested, Completed, Deleted]),
        ("Running", [StopRequested, Completed, Deleted]),
        ("Stopping", [Completed, Deleted]),
        ("Done", [Deleted]),
    ],
)
def test_delete_stops_and_completes_a_live_run_first(state: str, kinds: list[type[JobEvent]]) -> None:
    job = in_state(state)

    events = decide_delete(job, "ops", at(5))
    after = then(job, events)

    assert [type(e) for e in events] == kinds
    assert [e.originator_version for e in events] == list(
        range(job.version + 1, job.version + 1 + len(kinds))
    )
    assert (after.state, after.deleted) == ("Done", True)
    if state != "Done":
        assert after.outcome == "stopped"
        assert after.endDate == at(5)


def test_a_deleted_run_keeps_its_outcome_when_it_was_done_before() -> None:
    job = in_state("Done")

    after = then(job, decide_delete(job, "ops", at(5)))

    assert (after.outcome, after.endDate) == ("success", at(2))


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_on_a_deleted_run_is_refused(name: str) -> None:
    with pytest.raises(InvalidTransitionError, match="it is deleted"):
        COMMANDS[name](in_state("deleted"), at(10))


# --- time order ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_time_before_the_jobs_last_event_is_refused(name: str) -> None:
    job = in_state("New") if name == "start" else in_state("Running")
    before = at(-0.5) if name == "start" else at(0.999)

    with pytest.raises(RuleError, match="is before the last event of job"):
        COMMANDS[name](job, before)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_time_equal_to_the_jobs_last_event_is_accepted(name: str) -> None:
    job = in_state("New") if name == "start" else in_state("Running")
    same = job.lastEventTime
    assert same is not None

    assert COMMANDS[name](job, same)


# --- detail rows, counters and outcome ----------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("UploadSuccess", "UploadSuccess"),
        ("uploadsuccess", "UploadSuccess"),
        ("UPLOADWARNING", "UploadWarning"),
        ("  FileUpdated ", "FileUpdated"),
        ("FleEnd", "FleEnd"),
        ("fleend", "FleEnd"),
        ("BeginVideoPubl]ish", "BeginVideoPubl]ish"),
        ("beginvideopubl]ish", "BeginVideoPubl]ish"),
        ("VideoPubilshSuccess", "VideoPubilshSuccess"),
        ("endReoptimize", "endReoptimize"),
        ("ImageServingPublishCleanupsuccess", "ImageServingPublishCleanupsuccess"),
    ],
)
def test_log_types_are_matched_without_regard_to_case_and_stored_as_ips_spells_them(
    given: str, stored: str
) -> None:
    (event,) = decide_log(running(), given, "row", at(5))

    assert isinstance(event, DetailLogged)
    assert event.logType == stored


@pytest.mark.parametrize(
    "log_type",
    [
        "EndReoptimize",
        "ImageServingPublishCleanupSuccess",
        "ImageRenderingPublishCleanupSuccess",
        "VideoPublishCleanupSuccess",
    ],
)
def test_a_correctly_spelled_log_type_is_stored_as_given_not_as_the_ips_misspelling_that_folds_to_it(
    log_type: str,
) -> None:
    (event,) = decide_log(running(), log_type, "row", at(5))

    assert isinstance(event, DetailLogged)
    assert event.logType == log_type


@pytest.mark.parametrize("log_type", ["UploadSucess", "Success", "", "FileEnd2"])
def test_an_unknown_log_type_is_refused_and_named(log_type: str) -> None:
    with pytest.raises(RuleError, match=f"unknown log type {log_type!r}"):
        decide_log(running(), log_type, "row", at(5))


def test_an_unknown_asset_type_is_refused_and_named() -> None:
    with pytest.raises(RuleError, match="unknown asset type 'Jpeg'"):
        decide_log(running(), "UploadSuccess", "row", at(5), asset_type="Jpeg")


def test_an_aux_row_with_an_unknown_log_type_is_refused() -> None:
    aux = [JobLogDetailAux(logMessage="x", logType="Oops")]

    with pytest.raises(RuleError, match="unknown log type 'Oops' in an aux row"):
        decide_log(running(), "UploadWarning", "row", at(5), aux=aux)


def test_a_detail_row_carries_its_asset_and_aux_rows() -> None:
    aux = [JobLogDetailAux(logMessage="colour profile missing", logType="UploadWarning")]

    (event,) = decide_log(
        running(),
        "UploadWarning",
        "a.jpg",
        at(5),
        asset_name="a.jpg",
        asset_type="MasterImage",
        asset_handle="a|img1",
        aux=aux,
    )

    assert isinstance(event, DetailLogged)
    assert (event.assetName, event.assetType, event.assetHandle) == ("a.jpg", "MasterImage", "a|img1")
    assert event.auxArray == aux
    assert event.dateCreated == at(5)


def test_detail_rows_may_be_written_before_the_run_starts() -> None:
    job = submitted()

    after = then(job, decide_log(job, "InitiatingJobName", "nightly", at(0)))

    assert (after.state, after.detailTotalRows) == ("New", 1)


def test_the_first_begin_row_gives_the_joblog_its_log_type() -> None:
    job = running()

    job = then(job, decide_log(job, "beginvideopubl]ish", "row", at(5)))
    job = then(job, decide_log(job, "BeginUpload", "row", at(6)))

    assert job.logType == "BeginVideoPubl]ish"


ALL_COUNTERS = tuple(Counters.__struct_fields__)


@pytest.mark.parametrize(
    ("log_type", "counted"),
    [
        ("UploadSuccess", {"fileSuccessCount": 1, "totalFileCount": 1}),
        ("uploadsuccess", {"fileSuccessCount": 1, "totalFileCount": 1}),
        ("ReturnSuccess", {"fileSuccessCount": 1, "totalFileCount": 1}),
        ("VideoPubilshSuccess", {"fileSuccessCount": 1, "totalFileCount": 1}),
        ("imageservingpublishcleanupsuccess", {"fileSuccessCount": 1, "totalFileCount": 1}),
        ("UploadError", {"fileErrorCount": 1, "totalFileCount": 1}),
        ("PdfRipError", {"fileErrorCount": 1, "totalFileCount": 1}),
        ("DeleteFailure", {"fileErrorCount": 1, "totalFileCount": 1}),
        ("GetFailure", {"fileErrorCount": 1, "totalFileCount": 1}),
        ("UploadWarning", {"fileWarningCount": 1, "totalFileCount": 1}),
        ("trashwarning", {"fileWarningCount": 1, "totalFileCount": 1}),
        ("DuplicateSkipped", {"fileDuplicateCount": 1, "totalFileCount": 1}),
        ("FileUpdated", {"fileUpdateCount": 1, "totalFileCount": 1}),
        ("UploadUrlsSuccess", {"transferSuccessCount": 1}),
        ("uploadurlserror", {"transferErrorCount": 1}),
        ("BeginUploadUrls", {}),
        ("FleEnd", {}),
        ("FileBegin", {}),
        ("FileProgress", {}),
        ("BeginVideoPubl]ish", {}),
        ("endReoptimize", {}),
        ("EndUpload", {}),
        ("FatalError", {}),
        ("TotalFileCount", {}),
    ],
)
def test_each_detail_row_adds_to_the_counter_of_its_log_type(log_type: str, counted: dict[str, int]) -> None:
    job = running()

    after = then(job, decide_log(job, log_type, "row", at(5)))

    assert {name: getattr(after, name) for name in ALL_COUNTERS} == {
        name: counted.get(name, 0) for name in ALL_COUNTERS
    }
    assert after.detailTotalRows == 1


def test_counters_add_up_over_many_rows() -> None:
    job = running()
    rows = ["UploadSuccess", "uploadsuccess", "UploadWarning", "UploadError", "UploadUrlsSuccess", "FleEnd"]
    for offset, log_type in enumerate(rows):
        job = then(job, decide_log(job, log_type, "row", at(5 + offset)))

    assert (job.fileSuccessCount, job.fileWarningCount, job.fileErrorCount) == (2, 1, 1)
    assert (job.totalFileCount, job.transferSuccessCount, job.detailTotalRows) == (4, 1, 6)


def _finish(rows: Sequence[str], *, stop: bool = False, fatal: bool = False) -> Job:
    job = running()
    for offset, log_type in enumerate(rows):
        job = then(job, decide_log(job, log_type, "row", at(5 + offset)))
    if stop:
        job = then(job, decide_stop(job, "ops", "", at(50)))
    return then(job, decide_complete(job, fatal, "", None, at(60)))


@pytest.mark.parametrize(
    ("rows", "stop", "fatal", "outcome"),
    [
        ([], False, False, "success"),
        (["UploadSuccess", "FleEnd"], False, False, "success"),
        (["UploadSuccess", "UploadWarning"], False, False, "warnings"),
        (["UploadWarning", "UploadError"], False, False, "errors"),
        (["UploadUrlsError"], False, False, "errors"),
        (["UploadError", "UploadWarning"], True, False, "stopped"),
        ([], True, False, "stopped"),
        (["UploadError"], True, True, "fatal"),
        (["FatalError"], True, False, "fatal"),
        (["fatalerror"], False, False, "fatal"),
        (["UploadSuccess"], False, True, "fatal"),
    ],
    ids=[
        "nothing-wrong-is-success",
        "successes-and-file-ends-are-success",
        "a-warning-makes-warnings",
        "an-error-beats-a-warning",
        "a-transfer-error-makes-errors",
        "a-stop-beats-errors",
        "a-stop-alone-makes-stopped",
        "a-fatal-completion-beats-a-stop",
        "a-fatal-row-beats-a-stop",
        "a-fatal-row-in-any-case-makes-fatal",
        "a-fatal-completion-beats-successes",
    ],
)
def test_the_outcome_is_derived_in_the_order_fatal_stopped_errors_warnings_success(
    rows: list[str], stop: bool, fatal: bool, outcome: str
) -> None:
    job = _finish(rows, stop=stop, fatal=fatal)

    assert job.state == "Done"
    assert job.outcome == outcome


def test_a_fatal_row_marks_the_run_fatal_while_it_still_runs() -> None:
    job = running()

    after = then(job, decide_log(job, "FatalError", "disk full", at(5)))

    assert (after.fatalError, after.state, after.outcome) == (True, "Running", None)


def test_counters_given_on_completion_override_those_of_the_rows() -> None:
    job = running()
    for offset in range(2):
        job = then(job, decide_log(job, "UploadSuccess", "row", at(5 + offset)))
    final = Counters(fileSuccessCount=10, fileErrorCount=1, totalFileCount=11, transferWarningCount=2)

    done = then(job, decide_complete(job, False, "", final, at(20)))

    assert {name: getattr(done, name) for name in ALL_COUNTERS} == msgspec.structs.asdict(final)
    assert done.outcome == "errors"


def test_counters_given_on_completion_are_validated() -> None:
    # Checked with the command, before any rule (domain/validation.py), as every command is.
    with pytest.raises(InvalidFieldError, match=r"^invalid counters\.fileErrorCount: expected int >= 0"):
        validate(Complete(handle="h", counters=Counters(fileErrorCount=-1), at=at(20)))


def test_completion_records_end_date_message_and_fatal_flag() -> None:
    done = _finish([], fatal=True)

    assert (done.endDate, done.fatalError, done.completionMessage) == (at(60), True, "")


# --- what a submit carries -----------------------------------------------------------------------


def _payload() -> object:
    return decode_payload("optimizeImagesJob", MINIMAL_PAYLOADS["optimizeImagesJob"][0])


@pytest.mark.parametrize("locale", ["", "en", "de", "en-US", "fr-CA"])
def test_a_locale_of_the_form_ll_or_ll_cc_is_accepted(locale: str) -> None:
    check_submission("acme", "nightly", _payload(), "", locale)  # type: ignore[arg-type]


@pytest.mark.parametrize("locale", ["EN", "en_US", "eng", "en-us", "e", "en-USA", "en-", " en"])
def test_a_locale_not_of_the_form_ll_or_ll_cc_is_refused_and_named(locale: str) -> None:
    with pytest.raises(RuleError, match=f"locale {locale!r} is not of the form ll or ll-CC"):
        check_submission("acme", "nightly", _payload(), "", locale)  # type: ignore[arg-type]


@pytest.mark.parametrize("email", ["", "ops@example.com", "a.b+c@d"])
def test_an_email_address_or_none_is_accepted(email: str) -> None:
    check_submission("acme", "nightly", _payload(), email, "")  # type: ignore[arg-type]


@pytest.mark.parametrize("email", ["ops", "ops@", "@example.com", "a@b@c", "a b@c"])
def test_a_user_email_that_is_not_an_address_is_refused_and_named(email: str) -> None:
    with pytest.raises(RuleError, match=f"user email {email!r} is not an email address"):
        check_submission("acme", "nightly", _payload(), email, "")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("company", "name", "label"),
    [("ac|me", "nightly", "company"), ("acme", "night|ly", "job name"), ("acme", "nightly|", "job name")],
)
def test_a_pipe_in_company_or_name_is_refused_because_it_separates_handle_parts(
    company: str, name: str, label: str
) -> None:
    with pytest.raises(RuleError, match=f"{label} must not contain '\\|'"):
        check_submission(company, name, _payload(), "", "")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("company", "name", "label"), [("", "nightly", "company"), ("acme", "  ", "job name")]
)
def test_an_empty_company_or_name_is_refused(company: str, name: str, label: str) -> None:
    with pytest.raises(RuleError, match=f"{label} must not be empty"):
        check_submission(company, name, _payload(), "", "")  # type: ignore[arg-type]


def test_submitted_is_the_only_event_of_a_submit_and_starts_at_version_1() -> None:
    events = decide_submit(
        company="acme",
        handle=HANDLE,
        name="n",
        original_name="n",
        payload=decode_payload("metadataPublishJob", "{}"),
        job_type="MetadataPublish",
        user_email="",
        locale="",
        description="",
        at=at(0),
        trigger_time=at(-60),
    )

    assert [type(e) for e in events] == [Submitted]
    assert events[0].originator_version == 1
    assert then(None, events).triggerTime == at(-60)


def test_progress_and_log_events_record_their_own_time() -> None:
    job = running()
    (progress,) = decide_progress(job, 10, "", [], at(7))
    (row,) = decide_log(job, "UploadSuccess", "", at(8))

    assert isinstance(progress, ProgressUpdated)
    assert progress.timestamp == at(7)
    assert row.timestamp == at(8)
