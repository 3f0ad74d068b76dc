"""job_log_details: one row per DetailLogged (getJobLogDetails, getAssetJobLogs)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from jobledger.domain.events import DetailLogged, DomainEvent, JobLogDetailAux

NAME = "job_log_details"


class JobLogDetailRow(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One job-log detail row, keyed by its run and the event's version within the run."""

    jobId: UUID
    version: int
    # The run's handle and company, for whoever reads the table directly (sqlite3, Datasette).
    jobHandle: str = ""
    companyHandle: str = ""
    logType: str
    logMessage: str
    dateCreated: datetime
    assetName: str | None = None
    assetType: str | None = None
    assetHandle: str | None = None
    auxArray: list[JobLogDetailAux] = msgspec.field(default_factory=list)


def key(event: DomainEvent, hexid: str | None = None) -> tuple[str, int] | None:
    """A detail row per DetailLogged event; other events touch no row."""
    if not isinstance(event, DetailLogged):
        return None
    return (hexid or event.originator_id.hex, event.originator_version)


def apply(row: JobLogDetailRow | None, event: DomainEvent) -> JobLogDetailRow | None:
    """The detail row a DetailLogged event writes, its run not named; rows never change afterwards."""
    return named(event, "", "") if isinstance(event, DetailLogged) else row


def named(event: DomainEvent, job_handle: str, company: str) -> JobLogDetailRow:
    """The detail row a DetailLogged event writes, naming its run (the folds know the run)."""
    assert isinstance(event, DetailLogged)
    return JobLogDetailRow(
        jobId=event.originator_id,
        version=event.originator_version,
        jobHandle=job_handle,
        companyHandle=company,
        logType=event.logType,
        logMessage=event.logMessage,
        dateCreated=event.dateCreated,
        assetName=event.assetName,
        assetType=event.assetType,
        assetHandle=event.assetHandle,
        auxArray=event.auxArray,
    )


ROW_TYPE = JobLogDetailRow
KEY_COLUMNS = ("jobId", "version")
INDEXES: tuple[tuple[str, ...], ...] = (
    ("jobId", "dateCreated"),
    ("assetHandle",),
)

EVENTS = DetailLogged
