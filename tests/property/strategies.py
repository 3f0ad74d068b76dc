"""Hypothesis strategies for the ledger's events, payloads and commands.

Every strategy respects the constraints the Structs declare (counts >= 0, progress 0..100,
fractions 0..1, enum values), because the mapper validates them when it decodes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
from hypothesis import strategies as st

from jobledger.domain.commands import (
    Complete,
    Delete,
    JobCommand,
    LogDetail,
    RequestStop,
    Start,
    UpdateProgress,
)
from jobledger.domain.constants import ASSET_TYPES, LOG_TYPES
from jobledger.domain.events import (
    EVENT_TYPES,
    Completed,
    Counters,
    Deleted,
    DetailLogged,
    DomainEvent,
    IdempotencyKeyClaimed,
    JobLogDetailAux,
    ProgressUpdated,
    Started,
    StopRequested,
    Submitted,
    TaskItemProgress,
    TaskProgress,
)
from jobledger.domain.payloads import (
    AutomatedSetGenerationJob,
    CreateVideoSitemapJob,
    ExportJob,
    ImageRenderingPublishJob,
    ImageServingPublishJob,
    MetadataPublishJob,
    OptimizeImagesJob,
    ReprocessAssetsJob,
    RipPdfsJob,
    ServerDirectoryPublishJob,
    UploadDirectoryJob,
    UploadUrlsJob,
    VideoPublishJob,
)

# --- building blocks ---------------------------------------------------------------------------------

texts = st.text(max_size=20)
# What a command accepts in a name (domain/validation.py): no control characters or line breaks.
printable = st.text(st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=20)
names = st.text(min_size=1, max_size=12).filter(lambda s: s.strip() != "" and "|" not in s)
non_empty = st.text(min_size=1, max_size=12)
counts = st.integers(min_value=0, max_value=2**63 - 1)
any_ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
fractions = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
zones = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-7, minutes=-30))])
# Realistic times (years 1900..2200), with and without a zone: a far-off year 1 shifted into UTC
# is not a moment any runner reports.
times = st.one_of(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=zones),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
)
uuids = st.uuids()
email_settings = st.sampled_from(["All", "Error", "ErrorAndWarning", "JobCompletion", "None"])
publish_types = st.sampled_from(["Full", "FullWithSearch", "Incremental"])
log_types = st.sampled_from(sorted(LOG_TYPES))
asset_types = st.sampled_from(sorted(ASSET_TYPES))
json_scalars = st.one_of(st.none(), st.booleans(), any_ints, texts, st.floats(allow_nan=False))
json_objects = st.dictionaries(texts, st.one_of(json_scalars, st.lists(json_scalars, max_size=3)), max_size=3)
handle_lists = st.lists(non_empty, min_size=1, max_size=4)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The strategy's values or None."""
    return st.one_of(st.none(), strategy)


# --- payloads ----------------------------------------------------------------------------------------

image_serving = st.builds(
    ImageServingPublishJob,
    emailSetting=email_settings,
    publishType=publish_types,
    httpCompletionUrl=optional(texts),
    contextHandle=optional(texts),
)
image_rendering = st.builds(
    ImageRenderingPublishJob, emailSetting=email_settings, httpCompletionUrl=optional(texts)
)
video = st.builds(VideoPublishJob, emailSetting=email_settings, contextHandle=optional(texts))


@st.composite
def follow_on_fields(draw: st.DrawFn) -> dict[str, Any]:
    """At most one follow-on publish and at most one crop option, as the rules allow."""
    fields: dict[str, Any] = {
        "postJobOnlyIfFiles": draw(st.booleans()),
        "postHttpUrl": draw(optional(texts)),
    }
    post = draw(
        st.sampled_from(
            [None, "postImageServingPublishJob", "postImageRenderingPublishJob", "postVideoPublishJob"]
        )
    )
    if post is not None:
        fields[post] = draw(
            {
                "postImageServingPublishJob": image_serving,
                "postImageRenderingPublishJob": image_rendering,
                "postVideoPublishJob": video,
            }[post]
        )
    crop = draw(
        st.sampled_from([None, "manualCropOptions", "autoColorCropOptions", "autoTransparentCropOptions"])
    )
    if crop is not None:
        fields[crop] = draw(json_objects)
    return fields


def _with_follow_on(cls: type[Any], **strategies: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.tuples(st.fixed_dictionaries(strategies), follow_on_fields()).map(
        lambda parts: cls(**parts[0], **parts[1])
    )


payloads = st.one_of(
    image_serving,
    image_rendering,
    video,
    st.builds(ServerDirectoryPublishJob, emailSetting=email_settings, httpCompletionUrl=optional(texts)),
    st.builds(MetadataPublishJob, forcePublish=st.booleans(), emailSetting=optional(email_settings)),
    _with_follow_on(
        UploadDirectoryJob,
        serverDir=non_empty,
        overwrite=st.booleans(),
        readyForPublish=st.booleans(),
        includeSubfolders=st.booleans(),
        createMask=st.booleans(),
        processMetadataFiles=st.booleans(),
        emailSetting=email_settings,
        destFolder=optional(texts),
        preserveCrop=optional(st.booleans()),
        xmpKeywords=optional(texts),
    ),
    _with_follow_on(
        UploadUrlsJob,
        overwrite=st.booleans(),
        readyForPublish=st.booleans(),
        createMask=st.booleans(),
        emailSetting=email_settings,
        urlArray=st.lists(non_empty, max_size=3),
    ),
    st.builds(OptimizeImagesJob, emailSetting=email_settings),
    _with_follow_on(
        RipPdfsJob, pdfHandleArray=handle_lists, createMask=st.booleans(), emailSetting=email_settings
    ),
    _with_follow_on(
        ReprocessAssetsJob,
        assetHandleArray=handle_lists,
        createMask=st.booleans(),
        emailSetting=email_settings,
        preserveCrop=optional(st.booleans()),
    ),
    st.builds(CreateVideoSitemapJob, forceUpdate=st.booleans(), emailSetting=optional(email_settings)),
    st.builds(
        ExportJob,
        assetHandleArray=handle_lists,
        fmt=st.sampled_from(["orig", "convert"]),
        emailSetting=email_settings,
        is_modifier=optional(texts),
        macro=optional(texts),
        clientId=optional(texts),
    ),
    st.builds(
        AutomatedSetGenerationJob,
        assetHandleArray=handle_lists,
        readyForPublish=st.booleans(),
        autoSetCreationOptions=json_objects,
        emailSetting=email_settings,
        destFolder=optional(texts),
    ),
)

# --- events ------------------------------------------------------------------------------------------

task_items = st.builds(
    TaskItemProgress,
    itemName=texts,
    progress=fractions,
    progressMessage=texts,
    lastProgressUpdate=optional(times),
)
tasks = st.builds(
    TaskProgress,
    taskType=texts,
    taskState=st.sampled_from(["Unknown", "New", "Processing", "Stopping", "Done", "Failed"]),
    numProcessed=counts,
    numProcessing=counts,
    numPending=counts,
    progress=fractions,
    progressMessage=texts,
    lastProgressUpdate=optional(times),
    taskItemProgressArray=st.lists(task_items, max_size=2),
)
aux_rows = st.builds(JobLogDetailAux, logMessage=texts, logType=log_types, dateCreated=optional(times))
counters = st.builds(Counters, **{name: counts for name in Counters.__struct_fields__})

_BASE = {
    "originator_id": uuids,
    "originator_version": st.integers(min_value=1, max_value=2**31),
    "timestamp": times,
}

# Every field of every event type, so a field the round trip would lose cannot hide behind its default.
FIELDS: dict[type[DomainEvent], dict[str, st.SearchStrategy[Any]]] = {
    Submitted: {
        "companyHandle": texts,
        "jobHandle": texts,
        "name": texts,
        "originalName": texts,
        "type": texts,
        "payload": payloads,
        "submitUserEmail": texts,
        "locale": texts,
        "description": texts,
        "triggerTime": optional(times),
        "scheduleHandle": optional(texts),
        "followOnOf": optional(texts),
    },
    Started: {"serverName": texts, "startDate": times, "totalSize": counts},
    ProgressUpdated: {
        "progress": st.integers(min_value=0, max_value=100),
        "progressMessage": texts,
        "taskProgressArray": st.lists(tasks, max_size=3),
        "serverName": optional(texts),
    },
    DetailLogged: {
        "logType": log_types,
        "logMessage": texts,
        "dateCreated": times,
        "assetName": optional(texts),
        "assetType": optional(asset_types),
        "assetHandle": optional(texts),
        "auxArray": st.lists(aux_rows, max_size=3),
    },
    StopRequested: {"requestedBy": texts, "reason": texts},
    Completed: {
        "endDate": times,
        "fatalError": st.booleans(),
        "message": texts,
        "counters": optional(counters),
        "followOnHandle": optional(texts),
    },
    Deleted: {"requestedBy": texts},
    IdempotencyKeyClaimed: {"companyHandle": texts, "key": texts, "jobHandle": texts, "requestDigest": texts},
}
assert set(FIELDS) == set(EVENT_TYPES), "every event type needs a strategy"


def events_of(cls: type[DomainEvent]) -> st.SearchStrategy[Any]:
    """Events of one type, with every field drawn."""
    return st.builds(cls, **_BASE, **FIELDS[cls])


events = st.one_of(*(events_of(cls) for cls in EVENT_TYPES))

# --- commands on one job -----------------------------------------------------------------------------
# Commands are drawn without a handle and a time; the test fills in the job's handle and a time
# from `steps`, so that one drawn sequence can drive a pure fold and a real ledger alike.

_NO_HANDLE = {"handle": st.just("")}
percent_in_range = st.integers(min_value=0, max_value=100)
percents = st.one_of(percent_in_range, percent_in_range, st.integers(min_value=-5, max_value=105))
command_log_types = st.one_of(log_types, log_types.map(str.lower), st.sampled_from(["Nonsense", "FileEnd"]))

commands: st.SearchStrategy[JobCommand] = st.one_of(
    st.builds(
        Start, **_NO_HANDLE, server=st.sampled_from(["srv1", "srv2", " "]), total_size=st.integers(-1, 10**6)
    ),
    st.builds(
        UpdateProgress,
        **_NO_HANDLE,
        percent=percents,
        message=texts,
        tasks=st.lists(
            st.builds(TaskProgress, taskType=texts, progress=fractions, numProcessed=st.integers(0, 1000)),
            max_size=2,
        ),
    ),
    st.builds(
        LogDetail,
        **_NO_HANDLE,
        log_type=command_log_types,
        message=texts,
        asset_name=optional(printable),
        asset_type=optional(asset_types),
    ),
    st.builds(RequestStop, **_NO_HANDLE, reason=texts, requested_by=printable),
    st.builds(
        Complete,
        **_NO_HANDLE,
        fatal=st.booleans(),
        message=texts,
        counters=optional(
            st.builds(Counters, fileErrorCount=st.integers(0, 3), fileWarningCount=st.integers(0, 3))
        ),
    ),
    st.builds(Delete, **_NO_HANDLE, requested_by=printable),
)

# Seconds between one command and the next; now and then a step back in time, which the
# time-order rule must refuse.
step_seconds = st.one_of(
    st.integers(min_value=0, max_value=120), st.integers(min_value=0, max_value=5), st.just(-30)
)
steps = st.lists(st.tuples(commands, step_seconds), min_size=1, max_size=25)


def bound(command: JobCommand, handle: str) -> JobCommand:
    """The drawn command aimed at a job."""
    return msgspec.structs.replace(command, handle=handle)
