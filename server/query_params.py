"""The views' query parameters that name a value (a state, a job type, a log type, a sort), checked
by the checks the CLI's options use (projections/checks.py): a value the CLI refuses is a 400 here
in the CLI's words, and a spelling it takes (a payload kind for `type`) finds the same runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from jobledger.projections import checks

from .errors import HttpError
from .http import Request

# Each query's path, what it answers (the OpenAPI document's summary) and the parameters it takes:
# one taken by none of them is refused, as a misspelt filter must not answer every row.
QUERIES: list[tuple[str, str, list[str]]] = [
    (
        "/v1/active-jobs",
        "getActiveJobs",
        [
            "companyHandle",
            "jobHandle",
            "originalName",
            "includeWaitingJobs",
            "state",
            "type",
            "serverName",
            "numRows",
            "minPosition",
        ],
    ),
    (
        "/v1/scheduled-jobs",
        "getScheduledJobs",
        ["companyHandle", "jobHandle", "originalName", "numRows", "minPosition"],
    ),
    (
        "/v1/job-logs",
        "getJobLogs",
        [
            "companyHandle",
            "userHandle",
            "startDate",
            "endDate",
            "sortBy",
            "sortDirection",
            "numRows",
            "outcome",
            "state",
            "type",
            "serverName",
            "deleted",
            "cursor",
            "before",
            "minPosition",
        ],
    ),
    (
        "/v1/jobs/{jobHandle}/log-details",
        "getJobLogDetails",
        [
            "companyHandle",
            "logTypeArray",
            "sortBy",
            "sortDirection",
            "recordsPerPage",
            "resultsPage",
            "minPosition",
        ],
    ),
    ("/v1/assets/{assetHandle}/job-logs", "getAssetJobLogs", ["companyHandle", "numRows", "minPosition"]),
    (
        "/v1/jobs/{jobHandle}",
        "A run's or schedule's state, now or asOf a time, at a version, or both",
        ["companyHandle", "asOf", "version", "minPosition"],
    ),
    (
        "/v1/jobs/{jobHandle}/history",
        "Every event of a run or schedule (the first `limit`, as history --limit)",
        ["companyHandle", "limit", "minPosition"],
    ),
    (
        "/v1/events",
        "Events in global order: NDJSON, or SSE with Accept: text/event-stream (ids are positions)",
        ["after", "companyHandle", "jobHandle", "name", "limit"],
    ),
    ("/v1/position", "The position of the ledger's last event", []),
    (
        "/v1/tokens",
        "The tokens (never their secrets) of the caller's company, or of all for an IpsAdmin",
        ["companyHandle", "all"],
    ),
    ("/v1/audit/digest", "The hash chain's head (IpsAdmin)", ["minPosition"]),
]

ALIASES = {"server": "serverName"}  # other spellings a query takes (the CLI's --server)
REPEATABLE = frozenset({"logTypeArray", "name"})  # given more than once, each value counts
_TAKES = {
    path: {*names, *(alias for alias, name in ALIASES.items() if name in names)} for path, _, names in QUERIES
}


def check_names(request: Request, route: list[str]) -> None:
    """Refuse (400) a parameter the query at `route` (the path's segments after /v1) does not take."""
    takes = _TAKES.get(_template(route))
    if takes is None:
        return
    unknown = sorted(name for name in request.lists if name not in takes)
    if unknown:
        known = ", ".join(sorted(takes)) or "no parameters"
        raise HttpError(400, "bad_query", f"unknown query parameter {unknown[0]!r}; this query takes {known}")
    given = [ALIASES.get(name, name) for name, values in request.lists.items() for _ in values]
    twice = sorted({name for name in given if given.count(name) > 1 and name not in REPEATABLE})
    if twice:
        raise HttpError(400, "bad_query", f"query parameter {twice[0]!r} is given more than once")


def _template(route: list[str]) -> str:
    if len(route) >= 2 and route[0] in ("jobs", "assets"):
        name = "{jobHandle}" if route[0] == "jobs" else "{assetHandle}"
        return "/".join(["/v1", route[0], name, *route[2:]])
    return "/v1/" + "/".join(route)


def checked(request: Request, name: str, check: Callable[[str], str]) -> str | None:
    """A parameter as `check` spells it, if given."""
    value = request.text(name)
    return None if value is None else _check(name, check, value)


def one_of(request: Request, name: str, choices: Sequence[str]) -> str | None:
    """A parameter that takes one of `choices`, if given."""
    value = request.text(name)
    return None if value is None else _check(name, lambda v: checks.one_of(v, choices), value)


def choice(request: Request, name: str, choices: Sequence[str], default: str) -> str:
    """A parameter that takes one of `choices`, or `default` if not given."""
    return one_of(request, name, choices) or default


def many_of(request: Request, name: str, choices: Sequence[str]) -> list[str]:
    """A parameter repeated or separated by commas, each one of `choices`."""
    return each(request, name, lambda value: checks.one_of(value, choices))


def each(request: Request, name: str, check: Callable[[str], str]) -> list[str]:
    """A parameter repeated or separated by commas, each value as `check` spells it."""
    given = [value for values in request.lists.get(name, []) for value in values.split(",") if value]
    return [_check(name, check, value) for value in given]


def log_types(request: Request) -> list[str]:
    """logTypeArray (repeated, or separated by commas), each as IPS spells it."""
    return each(request, "logTypeArray", checks.log_type)


def _check(name: str, check: Callable[[str], str], value: str) -> str:
    try:
        return check(value)
    except checks.UnknownValueError as err:
        raise HttpError(400, "bad_query", f"Invalid value for '{name}': {err}") from None
