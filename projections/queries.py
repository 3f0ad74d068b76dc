"""The IPS read operations on the views: getActiveJobs, getJobLogs, getJobLogDetails, getAssetJobLogs.

Each returns JSON-ready records with the IPS field names. Callers catch the views up first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import msgspec

from jobledger.domain.errors import RuleError, UnknownHandleError
from jobledger.domain.handles import job_id
from jobledger.projections import job_logs as job_logs_view
from jobledger.projections.database import ViewsDatabase
from jobledger.projections.rows import iso
from jobledger.projections.views import VIEWS

ACTIVE_FIELDS = (
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
)
JOB_LOG_FIELDS = (
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
)
DETAIL_FIELDS = (
    "logMessage",
    "logType",
    "dateCreated",
    "assetName",
    "assetType",
    "assetHandle",
    "auxArray",
)
ASSET_LOG_FIELDS = (
    "jobHandle",
    "jobName",
    "logMessage",
    "logType",
    "submitUserEmail",
    "logDate",
    "auxArray",
)

SCHEDULED_FIELDS = (
    "companyHandle",
    "jobHandle",
    "name",
    "originalName",
    "type",
    "submitUserEmail",
    "locale",
    "description",
    "execSchedule",
    "nextFireTime",
    "timeZone",
    "triggerState",
)

# getJobLogs sort fields -> columns. IPS has no user ids here, so UserId sorts by email too.
LOG_SORT_FIELDS = {
    "JobName": "jobName",
    "LogType": "logType",
    "StartDate": job_logs_view.STARTED,
    "CompanyName": "companyHandle",
    "UserId": "submitUserEmail",
    "Email": "submitUserEmail",
    "FileErrorCount": "fileErrorCount",
    "FileWarningCount": "fileWarningCount",
    "FileSuccessCount": "fileSuccessCount",
}
DETAIL_SORT_FIELDS = {"Date": "dateCreated", "LogType": "logType"}
DIRECTIONS = {"Ascending": "ASC", "Descending": "DESC"}
MAX_PER_PAGE = 1000


def _columns(view: str, fields: Sequence[str]) -> str:
    """The select list for a query: only the fields it shows (and the payload, where kept)."""
    wanted = [*fields, "payload"] if "payload" in VIEWS[view].codec.columns else list(fields)
    return ", ".join(f"[{name}]" for name in wanted)


def _record(values: Sequence[Any], view: str, fields: Sequence[str]) -> dict[str, Any]:
    """A row selected with _columns as an IPS record, the payload under its kind."""
    codec = VIEWS[view].codec
    names = [*fields, "payload"] if "payload" in codec.columns else list(fields)
    data = codec.to_dict(values, names)
    payload = data.pop("payload", None)
    if isinstance(payload, dict):
        data[str(payload.pop("kind"))] = payload
    return data


# The select list of getJobLogs, worked out once: job_logs and its keyset pages both read it.
JOB_LOG_COLUMNS = _columns("job_logs", JOB_LOG_FIELDS)


class _Where:
    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, value: Any) -> None:
        if value is not None:
            self.clauses.append(clause)
            self.params.append(value)

    def sql(self) -> str:
        return f"WHERE {' AND '.join(self.clauses)}" if self.clauses else ""


def _limited(sql: str, params: Sequence[Any], limit: int | None) -> tuple[str, list[Any]]:
    """SQL with `LIMIT ?` when a limit is given."""
    if limit is None:
        return sql, list(params)
    return f"{sql} LIMIT ?", [*params, limit]


def active_jobs(
    db: ViewsDatabase,
    *,
    company: str | None = None,
    job: str | None = None,
    original_name: str | None = None,
    include_waiting: bool = False,
    state: str | None = None,
    job_type: str | None = None,
    server: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """getActiveJobs: live runs; New runs (waiting for a server) only with include_waiting."""
    where = _Where()
    where.add("companyHandle = ?", company)
    where.add("jobHandle = ?", job)
    where.add("originalName = ?", original_name)
    where.add("state = ?", state)
    where.add("type = ?", job_type)
    where.add("serverName = ?", server)
    if not include_waiting and state is None:
        where.clauses.append("state != 'New'")
    columns = _columns("active_jobs", ACTIVE_FIELDS)
    sql, params = _limited(
        f"SELECT {columns} FROM active_jobs {where.sql()} ORDER BY submitDate, jobHandle", where.params, limit
    )
    return [_record(values, "active_jobs", ACTIVE_FIELDS) for values in db.query(sql, params)]


def scheduled_jobs(
    db: ViewsDatabase,
    *,
    company: str | None = None,
    job: str | None = None,
    original_name: str | None = None,
    limit: int | None = None,
    fields: Sequence[str] = SCHEDULED_FIELDS,
) -> list[dict[str, Any]]:
    """getScheduledJobs: schedules that may still fire, Normal or Paused, soonest first (the
    IPS fields, or `fields` of the stored Schedule)."""
    where = _Where()
    where.add("companyHandle = ?", company)
    where.add("jobHandle = ?", job)
    where.add("originalName = ?", original_name)
    columns = _columns("scheduled_jobs", fields)
    sql, params = _limited(
        f"SELECT {columns} FROM scheduled_jobs {where.sql()} ORDER BY nextFireTime, jobHandle",
        where.params,
        limit,
    )
    return [_record(values, "scheduled_jobs", fields) for values in db.query(sql, params)]


def job_logs_where(
    *,
    company: str | None = None,
    user: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    outcome: str | None = None,
    state: str | None = None,
    job_type: str | None = None,
    server: str | None = None,
    deleted: bool | None = None,
) -> _Where:
    """getJobLogs' filters, shared by `job_logs` and its keyset pages (paging.py)."""
    where = _Where()
    where.add("companyHandle = ?", company)
    where.add("submitUserEmail = ?", user)
    where.add(f"{job_logs_view.STARTED} >= ?", iso(since) if since else None)
    where.add(f"{job_logs_view.STARTED} <= ?", iso(until) if until else None)
    where.add("outcome = ?", outcome)
    where.add("state = ?", state)
    where.add("type = ?", job_type)
    where.add("serverName = ?", server)
    where.add("deleted = ?", None if deleted is None else int(deleted))
    return where


def job_log_records(rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """Rows selected with JOB_LOG_COLUMNS as getJobLogs records."""
    return [_record(values, "job_logs", JOB_LOG_FIELDS) for values in rows]


def job_logs(
    db: ViewsDatabase,
    *,
    company: str | None = None,
    user: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sort_by: str = "StartDate",
    direction: str = "Descending",
    limit: int | None = None,
    outcome: str | None = None,
    state: str | None = None,
    job_type: str | None = None,
    server: str | None = None,
    deleted: bool | None = None,
) -> list[dict[str, Any]]:
    """getJobLogs: one summary per run in a time window (by start, or submit if not started);
    deleted runs are kept (with `deleted` true) unless `deleted` says otherwise."""
    where = job_logs_where(
        company=company,
        user=user,
        since=since,
        until=until,
        outcome=outcome,
        state=state,
        job_type=job_type,
        server=server,
        deleted=deleted,
    )
    order = f"{LOG_SORT_FIELDS[sort_by]} {DIRECTIONS[direction]}, jobHandle {DIRECTIONS[direction]}"
    sql, params = _limited(
        f"SELECT {JOB_LOG_COLUMNS} FROM job_logs {where.sql()} ORDER BY {order}", where.params, limit
    )
    return job_log_records(db.query(sql, params))


def job_log(db: ViewsDatabase, handle: str, company: str | None = None) -> dict[str, Any]:
    """One run's JobLog summary."""
    rows = db.query(f"SELECT {JOB_LOG_COLUMNS} FROM job_logs WHERE id = ?", (job_id(handle).hex,))
    if not rows:
        scheduled = db.query("SELECT companyHandle FROM scheduled_jobs WHERE id = ?", (job_id(handle).hex,))
        if scheduled and company in (None, scheduled[0][0]):
            # (a schedule has no job log of its own: the runs it fires have theirs)
            raise RuleError(f"{handle} is a schedule, not a run: the runs it fires have job logs")
        raise UnknownHandleError(handle, company)
    record = _record(rows[0], "job_logs", JOB_LOG_FIELDS)
    if company is not None and record["companyHandle"] != company:
        raise UnknownHandleError(handle, company)
    return record


def job_log_details(
    db: ViewsDatabase,
    handle: str,
    *,
    company: str | None = None,
    log_types: Sequence[str] = (),
    sort_by: str = "Date",
    direction: str = "Ascending",
    page: int = 1,
    per_page: int = MAX_PER_PAGE,
) -> dict[str, Any]:
    """getJobLogDetails: the run's JobLog with `detailTotalRows` and one page of `detailArray`."""
    record = job_log(db, handle, company)
    where = _Where()
    where.add("jobId = ?", job_id(handle).hex)
    if log_types:
        where.clauses.append(f"logType IN ({','.join('?' * len(log_types))})")
        where.params.extend(log_types)
    total = db.query(f"SELECT COUNT(*) FROM job_log_details {where.sql()}", where.params)[0][0]
    order = f"{DETAIL_SORT_FIELDS[sort_by]} {DIRECTIONS[direction]}, version {DIRECTIONS[direction]}"
    columns = _columns("job_log_details", DETAIL_FIELDS)
    sql = f"SELECT {columns} FROM job_log_details {where.sql()} ORDER BY {order} LIMIT ? OFFSET ?"
    rows = db.query(sql, [*where.params, per_page, (page - 1) * per_page])
    record["detailTotalRows"] = total
    record["detailArray"] = [_record(values, "job_log_details", DETAIL_FIELDS) for values in rows]
    return record


def asset_job_logs(
    db: ViewsDatabase, asset_handle: str, company: str, *, limit: int | None = None
) -> list[dict[str, Any]]:
    """getAssetJobLogs: every detail row of the company's runs that names this asset."""
    sql = (
        "SELECT j.jobHandle, j.jobName, d.logMessage, d.logType, j.submitUserEmail,"
        " d.dateCreated, d.auxArray FROM job_log_details d JOIN job_logs j ON j.id = d.jobId"
        " WHERE d.assetHandle = ? AND j.companyHandle = ? ORDER BY d.dateCreated, d.version"
    )
    sql, params = _limited(sql, (asset_handle, company), limit)
    records = []
    for values in db.query(sql, params):
        record = dict(zip(ASSET_LOG_FIELDS, values, strict=True))
        record["auxArray"] = msgspec.json.decode(record["auxArray"] or "[]")
        records.append(record)
    return records


def companies(db: ViewsDatabase) -> list[str]:
    """Every company with a run or a schedule that may still fire, in order."""
    sql = "SELECT companyHandle FROM job_logs UNION SELECT companyHandle FROM scheduled_jobs ORDER BY 1"
    return [values[0] for values in db.query(sql, ())]


ACTIVITY_COUNTS = ("events", "started", "success", "warnings", "errors", "fatal", "stopped")


def activity(db: ViewsDatabase, since: datetime, company: str | None = None) -> list[dict[str, Any]]:
    """The activity view's minutes from `since` on (summed over companies unless one is given),
    oldest first: `minute` and the counts."""
    where = _Where()
    where.add("minute >= ?", iso(since))
    where.add("companyHandle = ?", company)
    sums = ", ".join(f"SUM([{name}])" for name in ACTIVITY_COUNTS)
    sql = f"SELECT minute, {sums} FROM activity {where.sql()} GROUP BY minute ORDER BY minute"
    return [
        {"minute": datetime.fromisoformat(values[0]), **dict(zip(ACTIVITY_COUNTS, values[1:], strict=True))}
        for values in db.query(sql, where.params)
    ]


def detail_log_types(db: ViewsDatabase, handle: str) -> dict[str, int]:
    """How many detail rows of each log type a run has."""
    sql = "SELECT logType, COUNT(*) FROM job_log_details WHERE jobId = ? GROUP BY logType ORDER BY logType"
    return {kind: count for kind, count in db.query(sql, [job_id(handle).hex])}
