"""Where the read commands get their rows: the views of a local ledger, or a server's API.

Both give the very records of projections/queries (the server answers with them as JSON), so a
command prints the same whether it reads a file or `--server`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from jobledger.cli import tables
from jobledger.projections import queries

if TYPE_CHECKING:
    from jobledger.client import Client
    from jobledger.projections.database import ViewsDatabase


class Reads(Protocol):
    """The getActiveJobs, getScheduledJobs, getJobLogs, getJobLogDetails, getAssetJobLogs queries."""

    def active_jobs(self, **filters: Any) -> list[dict[str, Any]]: ...
    def scheduled_jobs(self, **filters: Any) -> list[dict[str, Any]]: ...
    def job_logs(self, **filters: Any) -> list[dict[str, Any]]: ...
    def job_log_details(self, handle: str, **filters: Any) -> dict[str, Any]: ...
    def asset_job_logs(self, asset: str, company: str, *, limit: int | None) -> list[dict[str, Any]]: ...
    def warn_unknown_company(self, company: str | None, found: int) -> None: ...


class LocalReads:
    """The queries on the views file, caught up (or as of a moment)."""

    def __init__(self, db: ViewsDatabase) -> None:
        self.db = db

    def active_jobs(self, **filters: Any) -> list[dict[str, Any]]:
        return queries.active_jobs(self.db, **filters)

    def scheduled_jobs(self, **filters: Any) -> list[dict[str, Any]]:
        return queries.scheduled_jobs(self.db, **filters)

    def job_logs(self, **filters: Any) -> list[dict[str, Any]]:
        return queries.job_logs(self.db, **filters)

    def job_log_details(self, handle: str, **filters: Any) -> dict[str, Any]:
        return queries.job_log_details(self.db, handle, **filters)

    def asset_job_logs(self, asset: str, company: str, *, limit: int | None) -> list[dict[str, Any]]:
        return queries.asset_job_logs(self.db, asset, company, limit=limit)

    def warn_unknown_company(self, company: str | None, found: int) -> None:
        tables.warn_unknown_company(self.db, company, found)


# The queries' keyword arguments -> the API's parameters (IPS names).
_PARAMS = {
    "company": "companyHandle",
    "job": "jobHandle",
    "original_name": "originalName",
    "include_waiting": "includeWaitingJobs",
    "state": "state",
    "job_type": "type",
    "server": "serverName",
    "limit": "numRows",
    "user": "userHandle",
    "since": "startDate",
    "until": "endDate",
    "sort_by": "sortBy",
    "direction": "sortDirection",
    "outcome": "outcome",
    "deleted": "deleted",
    "log_types": "logTypeArray",
    "page": "resultsPage",
    "per_page": "recordsPerPage",
    "cursor": "cursor",
}


class RemoteReads:
    """The same queries, asked of a server."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def active_jobs(self, **filters: Any) -> list[dict[str, Any]]:
        return self._get("/v1/active-jobs", filters)["activeJobArray"]  # type: ignore[no-any-return]

    def scheduled_jobs(self, **filters: Any) -> list[dict[str, Any]]:
        return self._get("/v1/scheduled-jobs", filters)["scheduledJobArray"]  # type: ignore[no-any-return]

    def job_logs(self, **filters: Any) -> list[dict[str, Any]]:
        limit = filters.get("limit")
        if limit is None or limit <= queries.MAX_PER_PAGE:
            return self._get("/v1/job-logs", filters)["jobLogArray"]  # type: ignore[no-any-return]
        # The server answers at most a page of 1000 rows at a time: follow its cursors to the limit.
        rows: list[dict[str, Any]] = []
        cursor = None
        while len(rows) < limit:
            wanted = min(queries.MAX_PER_PAGE, limit - len(rows))
            page = self._get("/v1/job-logs", {**filters, "limit": wanted, "cursor": cursor})
            rows += page["jobLogArray"]
            cursor = page.get("nextCursor")
            if cursor is None:
                break
        return rows

    def job_log_details(self, handle: str, **filters: Any) -> dict[str, Any]:
        from jobledger.server.wire import job_path

        return self._get(job_path(handle, "log-details"), filters)["jobLog"]  # type: ignore[no-any-return]

    def asset_job_logs(self, asset: str, company: str, *, limit: int | None) -> list[dict[str, Any]]:
        path = f"/v1/assets/{quote(asset, safe='')}/job-logs"
        return self._get(path, {"company": company, "limit": limit})["assetJobLogArray"]  # type: ignore[no-any-return]

    def warn_unknown_company(self, company: str | None, found: int) -> None:
        pass  # the server answers 404 for a company the token may not see; others are just empty

    def _get(self, path: str, filters: dict[str, Any]) -> Any:
        params: dict[str, Any] = {}
        for name, value in filters.items():
            if name == "deleted" and value is not None:
                value = "true" if value else "false"
            params[_PARAMS[name]] = value
        return self.client.get_json(path, params)
