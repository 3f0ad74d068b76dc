"""A seeded, realistic job-runner workload for the benchmarks: commands and the events they make.

Every job has the same 18-step lifecycle a runner reports: submit, start, 5 progress updates (each
with one TaskProgress row), 10 job-log detail rows (a Begin row, 8 per-file rows with asset names,
an End row) and complete. Payload kinds, log families, outcomes and names vary by job, drawn from
a seeded generator, so two runs with the same seed and jobs give byte-identical stored events.

Jobs run concurrently, as on a farm of servers: commands of `in_flight` jobs are interleaved
round-robin. Command times are explicit and increase through the stream (10 ms apart).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec

from jobledger.domain.commands import Command, Complete, LogDetail, Start, Submit, UpdateProgress
from jobledger.domain.decider import Decider
from jobledger.domain.events import DomainEvent, JobLogDetailAux, TaskProgress
from jobledger.domain.handles import run_handle, run_name
from jobledger.domain.memory import MemoryState
from jobledger.domain.payloads import (
    AnyPayload,
    ExportJob,
    ImageServingPublishJob,
    OptimizeImagesJob,
    ReprocessAssetsJob,
    UploadDirectoryJob,
    UploadUrlsJob,
    VideoPublishJob,
)

EVENTS_PER_JOB = 18  # submit, start, 5 progress, 10 detail rows, complete
PROGRESS_STEPS = (12, 37, 58, 81, 100)
START_TIME = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)
STEP = timedelta(milliseconds=10)

COMPANIES = ("47", "6", "1203", "388", "2911")
SERVERS = ("ips-prod-app-01", "ips-prod-app-02", "ips-prod-upload-01", "ips-prod-pub-03")
USERS = ("ana.ribeiro@example.com", "k.tanaka@example.co.jp", "ops-bot@example.org", "")
LOCALES = ("en-US", "de-DE", "fr-FR", "ja-JP", "en")
FOLDERS = ("spring-2026/catalog", "products/footwear", "campaigns/summer-sale", "brand/logos")
HOOK_URL = "https://hooks.example.com/ips/publish-done"
PROFILE = "sRGB IEC61966-2.1"
EXTENSIONS = (("tif", "MasterImage"), ("jpg", "MasterImage"), ("psd", "MasterImage"), ("pdf", "Pdf"))


@dataclass(frozen=True)
class Flavour:
    """How one kind of job reports: its payload kind, log family and task type."""

    kind: str
    family: str  # the <Op> of Begin<Op>, <Op>Success, ...
    task: str
    warning: bool  # whether the family has a <Op>Warning type
    weight: int


FLAVOURS = (
    Flavour("uploadDirectoryJob", "Upload", "Upload", True, 30),
    Flavour("uploadUrlsJob", "UploadUrls", "UrlTransfer", False, 15),
    Flavour("imageServingPublishJob", "ImageServingPublish", "Publish", True, 25),
    Flavour("videoPublishJob", "VideoPublish", "VideoEncode", True, 8),
    Flavour("optimizeImagesJob", "Reoptimize", "Optimize", False, 10),
    Flavour("reprocessAssetsJob", "Reoptimize", "Reprocess", False, 7),
    Flavour("exportJob", "AssetMigration", "Export", False, 5),
)


def _asset_handle(rng: random.Random, company: str) -> str:
    return f"a|{company}|1|{rng.randrange(10_000, 9_999_999)}"


def _payload(rng: random.Random, flavour: Flavour, company: str) -> AnyPayload:
    folder = rng.choice(FOLDERS)
    email = rng.choice(("All", "Error", "ErrorAndWarning", "JobCompletion", "None"))
    match flavour.kind:
        case "uploadDirectoryJob":
            return UploadDirectoryJob(
                serverDir=f"/ips/{company}/incoming/{folder}",
                overwrite=rng.random() < 0.7,
                readyForPublish=True,
                includeSubfolders=rng.random() < 0.5,
                createMask=False,
                processMetadataFiles=rng.random() < 0.3,
                emailSetting=email,
                destFolder=folder,
                # No follow-on publish: the ledger would submit one more job at completion, and each
                # command must make exactly one event for the raw baseline's transaction shapes.
            )
        case "uploadUrlsJob":
            return UploadUrlsJob(
                overwrite=True,
                readyForPublish=True,
                createMask=False,
                emailSetting=email,
                urlArray=[
                    f"https://assets.example.com/{folder}/IMG_{rng.randrange(1000, 9999)}.jpg"
                    for _ in range(rng.randrange(2, 6))
                ],
                destFolder=folder,
            )
        case "imageServingPublishJob":
            return ImageServingPublishJob(
                publishType=rng.choice(("Full", "Incremental", "Incremental", "FullWithSearch")),
                emailSetting=email,
                httpCompletionUrl="https://hooks.example.com/ips/publish-done"
                if rng.random() < 0.3
                else None,
            )
        case "videoPublishJob":
            return VideoPublishJob(emailSetting=email)
        case "optimizeImagesJob":
            return OptimizeImagesJob(emailSetting=email)
        case "reprocessAssetsJob":
            return ReprocessAssetsJob(
                assetHandleArray=[_asset_handle(rng, company) for _ in range(rng.randrange(1, 5))],
                createMask=False,
                emailSetting=email,
            )
        case "exportJob":
            return ExportJob(
                assetHandleArray=[_asset_handle(rng, company) for _ in range(rng.randrange(1, 5))],
                fmt=rng.choice(("orig", "convert")),
                emailSetting=email,
            )
    raise ValueError(f"no payload recipe for {flavour.kind}")


def _file_row(rng: random.Random, flavour: Flavour, company: str, n: int) -> LogDetail:
    """One per-file detail row (no handle or time yet): mostly successes, some warnings/errors."""
    ext, asset_type = rng.choice(EXTENSIONS)
    folder = rng.choice(FOLDERS)
    stem = f"IMG_{rng.randrange(1000, 9999)}_{n:02d}"
    name = f"{stem}.{ext}"
    roll = rng.random()
    aux: list[JobLogDetailAux] = []
    if roll < 0.72:
        log_type, message = f"{flavour.family}Success", f"{folder}/{name} processed"
    elif roll < 0.84 and flavour.warning:
        log_type, message = f"{flavour.family}Warning", f"{folder}/{name}: embedded ICC profile ignored"
        aux = [
            JobLogDetailAux(logType=log_type, logMessage="profile 'sRGB IEC61966-2.1' replaced by default")
        ]
    elif roll < 0.90:
        log_type, message = "DuplicateSkipped", f"{folder}/{name} already exists; skipped"
    elif roll < 0.95:
        log_type, message = "FileUpdated", f"{folder}/{name} replaced the previous version"
    else:
        log_type = f"{flavour.family}Error"
        message = f"{folder}/{name}: unsupported colour space (CMYK with spot channels)"
    return LogDetail(
        handle="",
        log_type=log_type,
        message=message,
        asset_name=name,
        asset_type=asset_type,
        asset_handle=_asset_handle(rng, company),
        aux=aux,
    )


def lifecycle(rng: random.Random, index: int) -> list[Command]:
    """The 17 commands of one job, in order, without times (the stream sets them)."""
    flavour = rng.choices(FLAVOURS, weights=[f.weight for f in FLAVOURS])[0]
    company = rng.choice(COMPANIES)
    name = f"{flavour.task}-{index:07d}"
    files = 8
    commands: list[Command] = [
        Submit(
            company=company,
            name=name,
            payload=_payload(rng, flavour, company),
            user_email=rng.choice(USERS),
            locale=rng.choice(LOCALES),
            description=f"{flavour.task} of {rng.choice(FOLDERS)} requested from the DMC console",
        ),
        Start(handle="", server=rng.choice(SERVERS), total_size=rng.randrange(1, 900) * 1_048_576),
    ]
    for percent in PROGRESS_STEPS:
        processed = files * percent // 100
        task = TaskProgress(
            taskType=flavour.task,
            taskState="Done" if percent == 100 else "Processing",
            numProcessed=processed,
            numProcessing=0 if percent == 100 else 1,
            numPending=max(files - processed - 1, 0),
            progress=percent / 100,
            progressMessage=f"{processed} of {files} files",
        )
        commands.append(
            UpdateProgress(handle="", percent=percent, message=f"{flavour.task}: {percent}%", tasks=[task])
        )
    commands.append(
        LogDetail(handle="", log_type=f"Begin{flavour.family}", message=f"{flavour.task} job {name} started")
    )
    commands.extend(_file_row(rng, flavour, company, n) for n in range(files))
    commands.append(
        LogDetail(handle="", log_type=f"End{flavour.family}", message=f"{flavour.task} job {name} finished")
    )
    commands.append(Complete(handle="", fatal=rng.random() < 0.01, message=f"{files} files handled"))
    assert len(commands) == EVENTS_PER_JOB
    return commands


def commands(jobs: int, *, seed: int = 7, in_flight: int = 16) -> list[Command]:
    """The command stream of `jobs` jobs, `in_flight` at a time, with handles and times filled in."""
    rng = random.Random(seed)
    stream: list[Command] = []
    for first in range(0, jobs, in_flight):
        wave = [lifecycle(rng, index) for index in range(first, min(first + in_flight, jobs))]
        handles = [""] * len(wave)
        for step in range(EVENTS_PER_JOB):
            for slot, job in enumerate(wave):
                at = START_TIME + len(stream) * STEP
                command = job[step]
                if isinstance(command, Submit):
                    # The handle the ledger will give this run (its name is unique, so no counter).
                    handles[slot] = run_handle(command.company or "", run_name(command.name, at))
                    stream.append(msgspec.structs.replace(command, at=at))
                else:
                    stream.append(msgspec.structs.replace(command, handle=handles[slot], at=at))
    return stream


def events(stream: Iterable[Command]) -> Iterator[DomainEvent]:
    """The events the ledger's rules make of a command stream, decided in memory (no store).

    Each command is decided by the ledger's own Decider, one command per batch as
    `JobLedger.record([command])` would, on a MemoryState that the decided events are committed to.
    """
    source = MemoryState()
    for command in stream:
        if command.at is None:
            command = msgspec.structs.replace(command, at=START_TIME)
        decider = Decider(source)
        decider.decide(0, command)
        source.commit(decider.events)
        yield from decider.events
