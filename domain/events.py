"""The facts of the ledger: frozen, past-tense msgspec Structs.

New fields always get a default, so events stored before the field existed still decode.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar
from uuid import UUID

import msgspec

from .constants import TaskState
from .limits import MAX_COUNT
from .payloads import AnyPayload

Percent = Annotated[int, msgspec.Meta(ge=0, le=100)]
Fraction = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)]


# gc=False throughout: these immutable values never form reference cycles, and leaving millions
# of them out of the cyclic garbage collector's scans made rebuilds and batch loads much faster.


class TaskItemProgress(msgspec.Struct, frozen=True, kw_only=True, gc=False, forbid_unknown_fields=True):
    """Progress of one item of an asynchronous task (a video transcode, say)."""

    itemName: str
    progress: Fraction = 0.0
    progressMessage: str = ""
    lastProgressUpdate: datetime | None = None


class TaskProgress(msgspec.Struct, frozen=True, kw_only=True, gc=False, forbid_unknown_fields=True):
    """Progress of one asynchronous sub-task of a run (IPS TaskProgress)."""

    taskType: str
    taskState: TaskState = "Processing"
    numProcessed: Count = 0
    numProcessing: Count = 0
    numPending: Count = 0
    progress: Fraction = 0.0
    progressMessage: str = ""
    lastProgressUpdate: datetime | None = None
    taskItemProgressArray: list[TaskItemProgress] = msgspec.field(default_factory=list)


class JobLogDetailAux(msgspec.Struct, frozen=True, kw_only=True, gc=False, forbid_unknown_fields=True):
    """An extra warning or error tied to one detail row."""

    logMessage: str
    logType: str
    dateCreated: datetime | None = None


class Counters(msgspec.Struct, frozen=True, kw_only=True, gc=False, forbid_unknown_fields=True):
    """A run's file and transfer counters (JobLog)."""

    fileSuccessCount: Count = 0
    fileErrorCount: Count = 0
    fileWarningCount: Count = 0
    fileDuplicateCount: Count = 0
    fileUpdateCount: Count = 0
    totalFileCount: Count = 0
    transferSuccessCount: Count = 0
    transferErrorCount: Count = 0
    transferWarningCount: Count = 0


class DomainEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Base of every stored event: which aggregate, which version of it, and when."""

    class_version: ClassVar[int] = 1

    originator_id: UUID
    originator_version: int
    timestamp: datetime


class JobEvent(DomainEvent, frozen=True, kw_only=True):
    """Base of the events of one run of a job."""


class Submitted(JobEvent, frozen=True, kw_only=True):
    """A job was submitted and a run of it created."""

    companyHandle: str
    jobHandle: str
    name: str
    originalName: str
    type: str
    payload: AnyPayload
    submitUserEmail: str = ""
    locale: str = ""
    description: str = ""
    triggerTime: datetime | None = None
    scheduleHandle: str | None = None
    followOnOf: str | None = None


class Started(JobEvent, frozen=True, kw_only=True):
    """A server began running the job."""

    serverName: str
    startDate: datetime
    totalSize: Count = 0


class ProgressUpdated(JobEvent, frozen=True, kw_only=True):
    """The running job reported how far it has got, overall and per task.

    Version 2 added serverName: the server that sent the report (None for version 1 events,
    which did not say; see the upcaster in store/codec.py).
    """

    class_version: ClassVar[int] = 2

    progress: Percent
    progressMessage: str = ""
    taskProgressArray: list[TaskProgress] = msgspec.field(default_factory=list)
    serverName: str | None = None


class DetailLogged(JobEvent, frozen=True, kw_only=True):
    """The job wrote one row of its job log."""

    logType: str
    logMessage: str
    dateCreated: datetime
    assetName: str | None = None
    assetType: str | None = None
    assetHandle: str | None = None
    auxArray: list[JobLogDetailAux] = msgspec.field(default_factory=list)


class StopRequested(JobEvent, frozen=True, kw_only=True):
    """Someone asked the job to stop."""

    requestedBy: str = ""
    reason: str = ""


class Completed(JobEvent, frozen=True, kw_only=True):
    """The run ended; its outcome follows from the log and this event."""

    endDate: datetime
    fatalError: bool = False
    message: str = ""
    counters: Counters | None = None
    followOnHandle: str | None = None


class Deleted(JobEvent, frozen=True, kw_only=True):
    """The job was deleted: gone from the active and scheduled views, its history kept."""

    requestedBy: str = ""


class IdempotencyKeyClaimed(DomainEvent, frozen=True, kw_only=True):
    """A submit claimed an idempotency key of a company for the run it created."""

    companyHandle: str
    key: str
    jobHandle: str
    requestDigest: str


JOB_EVENT_TYPES: tuple[type[JobEvent], ...] = (
    Submitted,
    Started,
    ProgressUpdated,
    DetailLogged,
    StopRequested,
    Completed,
    Deleted,
)
EVENT_TYPES: tuple[type[DomainEvent], ...] = (*JOB_EVENT_TYPES, IdempotencyKeyClaimed)
