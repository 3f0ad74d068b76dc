"""Helpers for the views tests: fixed times (`at` is samples'), a seeded catalogue of runs, event
factories, comparisons.

Imported by the tests in this folder as `views_support` (the folder is on sys.path through its
conftest), so the name is kept unique across the whole test tree.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from click.testing import CliRunner, Result
from samples import at  # the views tests import it from here too

from jobledger.cli.main import cli
from jobledger.domain.commands import (
    Command,
    Complete,
    Delete,
    LogDetail,
    RequestStop,
    Start,
    Submit,
    UpdateProgress,
)
from jobledger.domain.events import (
    Completed,
    Counters,
    Deleted,
    DetailLogged,
    IdempotencyKeyClaimed,
    JobLogDetailAux,
    ProgressUpdated,
    Started,
    StopRequested,
    Submitted,
    TaskProgress,
)
from jobledger.domain.handles import job_id
from jobledger.domain.payloads import (
    ExportJob,
    ImageServingPublishJob,
    MetadataPublishJob,
    OptimizeImagesJob,
    UploadDirectoryJob,
    UploadUrlsJob,
)
from jobledger.projections.database import ViewsDatabase
from jobledger.projections.runner import Projector, fold_view
from jobledger.projections.views import VIEWS
from jobledger.service.ledger import JobLedger

PYTHON = sys.executable
JOBLEDGER = str(Path(PYTHON).with_name("jobledger"))


def iso(seconds: float) -> str:
    """The stored (and JSON) text of `at(seconds)`."""
    return at(seconds).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


UPLOAD = UploadDirectoryJob(
    serverDir="incoming/spring/",
    overwrite=True,
    readyForPublish=True,
    includeSubfolders=False,
    createMask=False,
    processMetadataFiles=False,
    emailSetting="All",
)
PUBLISH = ImageServingPublishJob(emailSetting="Error", publishType="Full")
METADATA = MetadataPublishJob()
OPTIMIZE = OptimizeImagesJob(emailSetting="All")
EXPORT = ExportJob(assetHandleArray=["a|shoe"], fmt="orig", emailSetting="All")
URLS = UploadUrlsJob(overwrite=False, readyForPublish=True, createMask=False, emailSetting="All")


# --- the IPS field names each query answers with ------------------------------------------------

ACTIVE_JOB_KEYS = {
    "companyHandle",
    "jobHandle",
    "name",
    "originalName",
    "type",
    "state",
    "submitUserEmail",
    "locale",
    "description",
    "serverName",
    "startDate",
    "triggerTime",
    "totalSize",
    "progress",
    "progressMessage",
    "lastProgressUpdate",
    "taskProgressArray",
    "eta",
}
JOB_LOG_KEYS = {
    "companyHandle",
    "jobHandle",
    "jobName",
    "originalJobName",
    "type",
    "state",
    "submitUserEmail",
    "logType",
    "jobSubType",
    "startDate",
    "endDate",
    "description",
    "fileSuccessCount",
    "fileErrorCount",
    "fileWarningCount",
    "fileDuplicateCount",
    "fileUpdateCount",
    "totalFileCount",
    "transferSuccessCount",
    "transferErrorCount",
    "transferWarningCount",
    "fatalError",
    "outcome",
    "deleted",
}
DETAIL_KEYS = {"logMessage", "logType", "dateCreated", "assetName", "assetType", "assetHandle", "auxArray"}
ASSET_LOG_KEYS = {"jobHandle", "jobName", "logMessage", "logType", "submitUserEmail", "logDate", "auxArray"}


# --- a seeded catalogue of runs in every state ------------------------------------------------


@dataclass(frozen=True)
class Catalogue:
    """Handles of the seeded runs, named for what makes each one interesting."""

    uploading: str  # c47, ana, Running on app-01 with progress, detail rows and an ETA
    published: str  # c47, ken, Done with success on app-02
    waiting: str  # c47, ana, New (never started)
    stopping: str  # c6, ops-bot, Stopping on app-01
    fatal: str  # c6, ops-bot, Done with a fatal error
    deleted: str  # c47, ken, deleted while running: Done, stopped, not active
    failed_upload: str  # c47, ana, Done with errors; same originalName as `uploading`

    @property
    def all(self) -> list[str]:
        """Every seeded run."""
        return [
            self.uploading,
            self.published,
            self.waiting,
            self.stopping,
            self.fatal,
            self.deleted,
            self.failed_upload,
        ]


ANA = "ana.ribeiro@example.com"
KEN = "k.tanaka@example.co.jp"
BOT = "ops-bot@example.org"
LONG_MESSAGE = (
    "boot.tif: the embedded colour profile could not be read, so the image was converted with the"
    " company default profile; check the source file and upload it again if colours look wrong"
)
# Detail rows of the uploading run, in the order they are logged (5 s apart from t=130).
UPLOADING_DETAILS = [
    ("BeginUpload", "upload of incoming/spring/ started", None, None),
    ("UploadSuccess", "shoe.tif uploaded", "shoe.tif", "a|shoe"),
    ("UploadWarning", LONG_MESSAGE, "boot.tif", "a|boot"),
    ("UploadSuccess", "hat.tif uploaded", "hat.tif", "a|hat"),
    ("UploadError", "scarf.tif is not an image", "scarf.tif", "a|scarf"),
    ("UploadSuccess", "glove.tif uploaded", "glove.tif", "a|glove"),
    ("FileUpdated", "shoe.tif replaced an older version", "shoe.tif", "a|shoe"),
]


def seed_catalogue(ledger: JobLedger) -> Catalogue:
    """Fill a ledger with runs of two companies in every state, at fixed times."""
    uploading = ledger.submit(
        "c47", "spring-upload", UPLOAD, user_email=ANA, locale="en-US", description="spring", at=at(0)
    )
    published = ledger.submit("c47", "nightly-publish", PUBLISH, user_email=KEN, at=at(10))
    waiting = ledger.submit("c47", "metadata-sync", METADATA, user_email=ANA, at=at(20))
    stopping = ledger.submit("c6", "c6-optimize", OPTIMIZE, user_email=BOT, at=at(30))
    fatal = ledger.submit("c6", "c6-export", EXPORT, user_email=BOT, at=at(40))
    deleted = ledger.submit("c47", "url-upload", URLS, user_email=KEN, at=at(50))
    failed_upload = ledger.submit("c47", "spring-upload", UPLOAD, user_email=ANA, at=at(55))

    ledger.start(uploading, "ips-app-01", total_size=5000, at=at(60))
    ledger.update_progress(uploading, 10, message="uploading", at=at(120))
    for i, (log_type, message, asset, handle) in enumerate(UPLOADING_DETAILS):
        aux = []
        if log_type == "UploadWarning":
            aux = [
                JobLogDetailAux(logMessage="profile missing", logType="UploadWarning", dateCreated=at(140))
            ]
        ledger.log_detail(
            uploading,
            log_type,
            message,
            asset_name=asset,
            asset_type="MasterImage" if asset else None,
            asset_handle=handle,
            aux=aux,
            at=at(130 + 5 * i),
        )
    ledger.update_progress(
        uploading,
        40,
        message="uploading",
        tasks=[TaskProgress(taskType="Upload", numProcessed=4, numPending=6, progress=0.4)],
        at=at(180),
    )

    ledger.start(published, "ips-app-02", at=at(70))
    ledger.log_detail(published, "ImageServingPublishSuccess", "catalog published", at=at(200))
    ledger.complete(published, at=at(300))

    ledger.start(stopping, "ips-app-01", at=at(90))
    ledger.update_progress(stopping, 25, at=at(150))
    ledger.request_stop(stopping, reason="wrong folder", requested_by=BOT, at=at(160))

    ledger.start(fatal, "ips-app-03", at=at(100))
    ledger.log_detail(fatal, "FatalError", "disk full", at=at(110))
    ledger.complete(fatal, fatal=True, message="disk full", at=at(115))

    ledger.start(deleted, "ips-app-02", at=at(110))
    ledger.delete(deleted, requested_by=KEN, at=at(170))

    ledger.start(failed_upload, "ips-app-02", at=at(65))
    ledger.log_detail(
        failed_upload,
        "UploadError",
        "boot.tif is truncated",
        asset_name="boot.tif",
        asset_type="MasterImage",
        asset_handle="a|boot",
        at=at(75),
    )
    ledger.complete(failed_upload, at=at(80))
    return Catalogue(uploading, published, waiting, stopping, fatal, deleted, failed_upload)


# --- histories made fast through the batch API ------------------------------------------------


def busy_ledger(ledger: JobLedger, jobs: int, *, progress_steps: int = 10, details: int = 15) -> int:
    """Append `jobs` complete runs (submit, start, progress, detail rows, an end) in big batches.

    Every fifth run is left stopping and every seventh is deleted; returns the head position.
    """
    submits = [
        Submit(company=f"c{j % 3}", name=f"bulk-{j}", payload=OPTIMIZE, user_email=ANA, at=at(j))
        for j in range(jobs)
    ]
    handles = [job.jobHandle for job in ledger.record(submits)]
    commands: list[Command] = []
    for j, handle in enumerate(handles):
        moment = jobs + j * 100
        commands.append(Start(handle=handle, server=f"ips-app-0{j % 4}", at=at(moment)))
        for step in range(1, progress_steps + 1):
            commands.append(
                UpdateProgress(handle=handle, percent=step * 90 // progress_steps, at=at(moment + step))
            )
        for row in range(details):
            commands.append(
                LogDetail(
                    handle=handle,
                    log_type="UploadSuccess" if row % 4 else "UploadWarning",
                    message=f"file {row} of run {j}",
                    asset_handle=f"a|asset{row}",
                    at=at(moment + 20 + row),
                )
            )
        if j % 7 == 0:
            commands.append(Delete(handle=handle, at=at(moment + 50)))
        elif j % 5 == 0:
            commands.append(RequestStop(handle=handle, at=at(moment + 50)))
        else:
            commands.append(Complete(handle=handle, at=at(moment + 50)))
    for start in range(0, len(commands), 5000):
        ledger.record(commands[start : start + 5000])
    return ledger.head_position()


# --- event factories for the unit tests -------------------------------------------------------

RUN_ID = job_id("c47||spring-upload_2026-01-01-09:00:00")


def submitted(version: int = 1, seconds: float = 0) -> Submitted:
    """The first event of the run the unit tests fold."""
    return Submitted(
        originator_id=RUN_ID,
        originator_version=version,
        timestamp=at(seconds),
        companyHandle="c47",
        jobHandle="c47||spring-upload_2026-01-01-09:00:00",
        name="spring-upload_2026-01-01-09:00:00",
        originalName="spring-upload",
        type="UploadFromServerDirectory",
        payload=UPLOAD,
        submitUserEmail=ANA,
        locale="en-US",
        description="spring",
    )


def started(version: int = 2, seconds: float = 60) -> Started:
    """The run began on app-01."""
    return Started(
        originator_id=RUN_ID,
        originator_version=version,
        timestamp=at(seconds),
        serverName="ips-app-01",
        startDate=at(seconds),
        totalSize=5000,
    )


def progressed(version: int, seconds: float, percent: int) -> ProgressUpdated:
    """The run reported `percent` done, with one task row."""
    return ProgressUpdated(
        originator_id=RUN_ID,
        originator_version=version,
        timestamp=at(seconds),
        progress=percent,
        progressMessage=f"{percent}% uploaded",
        taskProgressArray=[TaskProgress(taskType="Upload", progress=percent / 100)],
    )


def logged(version: int, seconds: float, log_type: str = "UploadWarning") -> DetailLogged:
    """The run wrote one detail row about boot.tif."""
    return DetailLogged(
        originator_id=RUN_ID,
        originator_version=version,
        timestamp=at(seconds),
        logType=log_type,
        logMessage="boot.tif has no profile",
        dateCreated=at(seconds),
        assetName="boot.tif",
        assetType="MasterImage",
        assetHandle="a|boot",
        auxArray=[JobLogDetailAux(logMessage="profile missing", logType="UploadWarning")],
    )


def stop_requested(version: int, seconds: float) -> StopRequested:
    """Someone asked the run to stop."""
    return StopRequested(
        originator_id=RUN_ID,
        originator_version=version,
        timestamp=at(seconds),
        requestedBy=KEN,
        reason="wrong folder",
    )


def completed(version: int, seconds: float, *, fatal: bool = False) -> Completed:
    """The run ended."""
    return Completed(
        originator_id=RUN_ID,
        originator_version=version,
        timestamp=at(seconds),
        endDate=at(seconds),
        fatalError=fatal,
        counters=Counters(fileSuccessCount=3, totalFileCount=3),
    )


def deleted(version: int, seconds: float) -> Deleted:
    """The run was deleted."""
    return Deleted(originator_id=RUN_ID, originator_version=version, timestamp=at(seconds), requestedBy=KEN)


def key_claimed(seconds: float = 0) -> IdempotencyKeyClaimed:
    """A submit claimed an idempotency key (an event of another aggregate)."""
    return IdempotencyKeyClaimed(
        originator_id=UUID(int=7),
        originator_version=1,
        timestamp=at(seconds),
        companyHandle="c47",
        key="nightly-2026-01-01",
        jobHandle="c47||spring-upload_2026-01-01-09:00:00",
        requestDigest="0" * 64,
    )


# --- comparing views --------------------------------------------------------------------------


def _by_key(rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted((tuple(row) for row in rows), key=lambda row: (row[0], row[1]))


def stored_rows(db: ViewsDatabase, table: str | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every view's stored rows as tuples of SQLite values, in key order."""
    names = [table] if table else list(VIEWS)
    return {name: _by_key(db.rows(name)) for name in names}


def folded_rows(projector: Projector) -> dict[str, list[tuple[Any, ...]]]:
    """Every view's rows from one plain fold of all events, encoded as the database stores them."""
    events = list(projector.events())
    return {
        name: _by_key([view.codec.encode(row) for row in fold_view(view, events).values()])
        for name, view in VIEWS.items()
    }


# --- running the CLI --------------------------------------------------------------------------


def invoke(*args: str) -> Result:
    """Run `jobledger ARGS` in-process, with stdout and stderr kept apart."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


def run_jobledger(
    *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run the installed `jobledger` command in a child process."""
    return subprocess.run(
        [JOBLEDGER, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(env),
        check=False,
    )


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child process, without JOBLEDGER_* settings leaking in."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("JOBLEDGER_")}
    env.update(extra or {})
    return env


def assert_usage_error(result: Result, *needles: str) -> None:
    """Exit 2, one `Error:` line on stderr naming the problem, nothing on stdout, no traceback."""
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@contextmanager
def batch_size(size: int) -> Iterator[None]:
    """The runner reads `size` events per batch (a rebuild's too) for a while."""
    from jobledger.projections import runner

    saved = runner.BATCH_SIZE, runner.REBUILD_BATCH_SIZE
    runner.BATCH_SIZE = runner.REBUILD_BATCH_SIZE = size
    try:
        yield
    finally:
        runner.BATCH_SIZE, runner.REBUILD_BATCH_SIZE = saved
