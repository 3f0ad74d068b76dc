"""GET /v1/openapi.json (OpenAPI 3.1, generated from the wire types) and /v1/docs (a page of our own:
no CDN, no build step)."""

from __future__ import annotations

import html
from functools import cache
from importlib.resources import files
from typing import Any

import msgspec

from jobledger.projections.checks import MAX_PAGE

from . import batches, wire
from .query_params import QUERIES

_COMMANDS: list[tuple[str, str, Any, str]] = [
    ("/v1/jobs", "post", wire.SubmitJob, "submitJob: a run now, or a schedule (execTime/execSchedule)"),
    ("/v1/jobs/{jobHandle}/start", "post", wire.StartJob, "Mark a New run Running on a server"),
    ("/v1/jobs/{jobHandle}/progress", "post", wire.ReportProgress, "Report progress, overall and per task"),
    ("/v1/jobs/{jobHandle}/log", "post", wire.JobLogDetail, "Write a job-log row (or an array of rows)"),
    ("/v1/jobs/{jobHandle}/complete", "post", wire.CompleteJob, "End a running job"),
    ("/v1/jobs/{jobHandle}/stop", "post", wire.StopJob, "Ask a New or Running job to stop"),
    ("/v1/jobs/{jobHandle}/pause", "post", wire.ChangeSchedule, "Pause a schedule"),
    ("/v1/jobs/{jobHandle}/resume", "post", wire.ChangeSchedule, "Resume a schedule"),
    ("/v1/jobs/{jobHandle}/execute", "post", wire.ChangeSchedule, "Run a schedule's job now"),
    ("/v1/jobs/{jobHandle}", "delete", wire.ChangeSchedule, "Delete a run or a schedule"),
    (
        "/v1/batch",
        "post",
        batches.Batch,
        "Many commands (each an action, its jobHandle and its route's body): all or none in one"
        " transaction (atomic, the default), or each alone in one group commit; answers their states"
        " (or, not atomic, each one's state or error)",
    ),
]
_PLATFORM: list[tuple[str, str, str]] = [
    ("/healthz", "The process is up (no token)", "application/json"),
    (
        "/readyz",
        "The store is reachable, the views within 10,000 events, the writer up (no token)",
        "application/json",
    ),
    ("/metrics", "Prometheus text: an IpsAdmin's all, a company admin's own company", "text/plain"),
]
_OPEN = ("/healthz", "/readyz")
_INTEGER = {"numRows", "minPosition", "recordsPerPage", "resultsPage", "version", "after", "limit"}
_BOOLEAN = {"includeWaitingJobs", "deleted", "before", "all"}
_TIME = {"startDate", "endDate", "asOf"}
_PAGES = {"/v1/job-logs": "numRows", "/v1/jobs/{jobHandle}/log-details": "recordsPerPage"}  # up to 1000
_SAID: dict[str, str] = {
    "serverName": "also spelt `server`",
    "companyHandle": "an IpsAdmin's choice of company (the others' tokens read their own)",
    "logTypeArray": "repeated, or separated by commas",
    "name": "event names, repeated or separated by commas",
    **dict.fromkeys(_TIME, "ISO 8601, as the CLI takes it: a date alone is its midnight, no zone is UTC"),
    **dict.fromkeys(_BOOLEAN, "true or false; given bare, true"),
}


def _query_parameter(name: str, path: str = "") -> dict[str, Any]:
    if name in _INTEGER:
        schema: dict[str, Any] = {"type": "integer", "minimum": 0 if name in ("minPosition", "after") else 1}
        if _PAGES.get(path) == name:
            schema["maximum"] = 1000
        if name == "resultsPage":
            schema["maximum"] = MAX_PAGE
    elif name in _BOOLEAN:
        schema = {"type": "boolean"}
    elif name in ("logTypeArray", "name"):
        schema = {"type": "array", "items": {"type": "string"}}
    else:
        schema = {"type": "string"}
    parameter = {"name": name, "in": "query", "schema": schema}
    if path == "/v1/assets/{assetHandle}/job-logs" and name == "companyHandle":
        parameter["description"] = "required with an IpsAdmin's token (the others' read their own company)"
    elif name in _SAID:
        parameter["description"] = _SAID[name]
    return parameter


def _path_parameters(path: str) -> list[dict[str, Any]]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": "percent-encode '|' as %7C",
        }
        for name in names
    ]


# Bounds the ledger keeps on a field (400 invalid_value past them), which its wire type cannot say.
_LEDGER_BOUNDS: list[tuple[str, str, dict[str, Any]]] = [
    ("ReportProgress", "progress", {"minimum": 0, "maximum": 100}),
    ("StartJob", "totalSize", {"minimum": 0}),
    ("StartJob", "serverName", {"minLength": 1}),
]
_EVENTS_ANSWER = {
    "description": "one event a line; with Accept: text/event-stream, a live stream whose ids are positions",
    "content": {"application/x-ndjson": {}, "text/event-stream": {}},
}


@cache
def openapi_document() -> bytes:
    """The OpenAPI 3.1 document, encoded once."""
    types = [kind for _, _, kind, _ in _COMMANDS] + [wire.Accepted, wire.ErrorBody, wire.CreateToken]
    (schemas_refs, components) = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    refs = dict(zip([kind for _, _, kind, _ in _COMMANDS], schemas_refs, strict=False))
    components["Batch"]["properties"]["commands"]["maxItems"] = wire.MAX_BATCH  # (more: 413)
    for schema, name, bounds in _LEDGER_BOUNDS:  # (the ledger's own checks, not the wire types')
        components[schema]["properties"][name].update(bounds)
    for schema in components.values():  # a payload is given under its kind's key: no tag inside
        schema.get("properties", {}).pop("kind", None)
        if "kind" in schema.get("required", ()):
            schema["required"].remove("kind")
    error = {
        "description": "error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    accepted = {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}}
    denied = {
        "401": error | {"description": "no token, or not a valid one"},
        "403": error | {"description": "the token's role may not"},
    }
    paths: dict[str, dict[str, Any]] = {}
    for path, method, kind, summary in _COMMANDS:
        body_schema = refs[kind]
        if path.endswith("/log"):
            body_schema = {
                "oneOf": [refs[kind], {"type": "array", "items": refs[kind], "maxItems": wire.MAX_BATCH}]
            }
        paths.setdefault(path, {})[method] = {
            "summary": summary,
            "parameters": _path_parameters(path)
            + (
                [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}]
                if path == "/v1/jobs"
                else []
            ),
            "requestBody": {
                # (an empty body is `{}`: a body of optional fields only may be left out)
                "required": any(field.required for field in msgspec.structs.fields(kind)),
                "content": {"application/json": {"schema": body_schema}},
            },
            "responses": {
                "200": {
                    "description": "a replay of the submit that first used the Idempotency-Key: its"
                    " very answer, with the header Idempotent-Replayed: true"
                    if path == "/v1/jobs"
                    else "durable",
                    "content": accepted,
                },
                **(
                    {"201": {"description": "created, durable", "content": accepted}}
                    if path == "/v1/jobs"
                    else {}
                ),
                "400": error,
                **denied,
                "404": error,
                "409": error,
                "413": error,
                "503": error,
            },
        }
    for path, summary, parameters in QUERIES:
        paths.setdefault(path, {})["get"] = {
            "summary": summary,
            "parameters": _path_parameters(path) + [_query_parameter(name, path) for name in parameters],
            "responses": {
                "200": _EVENTS_ANSWER
                if path == "/v1/events"
                else {"description": "the answer, with the position it reflects"},
                "400": error,
                **denied,
                "404": error,
                "503": error,
            },
        }
    paths["/v1/events"]["get"]["parameters"].append(
        {
            "name": "Last-Event-ID",
            "in": "header",
            "schema": {"type": "integer", "minimum": 0},
            "description": "an event stream resumes after this position (it wins over `after`)",
        }
    )
    paths["/v1/tokens"]["get"]["responses"]["200"] = {"description": "tokenArray"}
    paths["/v1/tokens"] |= {
        "post": {
            "summary": "Create a token: the answer shows its secret once",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreateToken"}}},
            },
            "responses": {"200": {"description": "the token, with its secret"}, "400": error, **denied},
        },
    }
    paths["/v1/tokens/{tokenId}"] = {
        "delete": {
            "summary": "Revoke a token",
            "parameters": _path_parameters("/v1/tokens/{tokenId}"),
            "responses": {"200": {"description": "the token, revoked"}, **denied, "404": error},
        }
    }
    for path, summary, media in _PLATFORM:
        operation: dict[str, Any] = {
            "summary": summary,
            "responses": {"200": {"description": summary, "content": {media: {}}}, "503": error},
        }
        if path in _OPEN:
            operation["security"] = []
        else:
            operation["responses"].update(denied)
        paths[path] = {"get": operation}
    for path in ("/v1/openapi.json", "/v1/docs"):
        paths[path] = {
            "get": {
                "summary": "This description",
                "security": [],
                "responses": {"200": {"description": "it"}},
            }
        }
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "jobledger",
            "version": "1",
            "description": "IPS-style jobs as an event-sourced ledger",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a token of `jobledger tokens create` (not needed with serve --no-auth)",
                }
            },
        },
        "security": [{"bearer": []}],
    }
    return msgspec.json.encode(document)


def _docs_page() -> bytes:
    rows = []
    for path, method, _, summary in _COMMANDS:
        rows.append(
            f"<tr><td>{method.upper()}</td><td><code>{html.escape(path)}</code></td><td>{html.escape(summary)}</td></tr>"
        )
    for path, summary, _ in QUERIES:
        rows.append(
            f"<tr><td>GET</td><td><code>{html.escape(path)}</code></td><td>{html.escape(summary)}</td></tr>"
        )
    page = (files(__package__) / "docs.html").read_text(encoding="utf-8")
    return page.replace("<!--ROWS-->", "\n".join(rows)).encode()


DOCS_PAGE = _docs_page()
