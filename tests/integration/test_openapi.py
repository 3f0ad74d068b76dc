"""GET /v1/openapi.json describes the server that serves it: every path it answers and no other,
with the bearer scheme, the auth answers, and typed query parameters."""

from __future__ import annotations

from typing import Any

from server_support import Served, job_path, serving

from jobledger.server.app import methods_of

SUBMIT = {"companyHandle": "acme", "jobName": "nightly", "optimizeImagesJob": {"emailSetting": "All"}}


def document(served: Served) -> dict[str, Any]:
    status, body = served.call("GET", "/v1/openapi.json")
    assert status == 200 and body["openapi"] == "3.1.0"
    return body  # type: ignore[no-any-return]


def test_every_described_path_and_method_is_answered_and_the_methods_are_the_servers(sqlite_db: str) -> None:
    with serving(sqlite_db) as served:
        _, created = served.call("POST", "/v1/jobs", SUBMIT)
        handle = created["jobHandle"]
        for path, operations in document(served)["paths"].items():
            concrete = path.replace("{jobHandle}", job_path(handle)[len("/v1/jobs/") :])
            concrete = concrete.replace("{assetHandle}", "a%7C1").replace("{tokenId}", "nothing")
            if path.startswith("/v1/") and not path.startswith("/v1/tokens"):
                route = concrete[len("/v1/") :].split("/")
                allowed = {method.lower() for method in methods_of(route)} - {"head"}
                if path not in ("/v1/openapi.json", "/v1/docs"):
                    assert set(operations) == allowed, path
            for method in operations:
                status, body = served.call(method.upper(), concrete, {} if method == "post" else None)
                assert status != 405, (method, path, body)
                if status == 404:  # a handle that is not there, never a path that is not
                    assert "no such path" not in str(body), (method, path, body)


def test_the_bearer_scheme_and_the_auth_answers_are_described(sqlite_db: str) -> None:
    with serving(sqlite_db) as served:
        described = document(served)
    assert described["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": described["components"]["securitySchemes"]["bearer"]["description"],
    }
    assert described["security"] == [{"bearer": []}]
    for path, operations in described["paths"].items():
        for operation in operations.values():
            if path in ("/healthz", "/readyz", "/v1/openapi.json", "/v1/docs"):
                assert operation["security"] == []
            else:
                assert {"401", "403"} <= set(operation["responses"]), path


def test_query_parameters_carry_their_types(sqlite_db: str) -> None:
    with serving(sqlite_db) as served:
        paths = document(served)["paths"]
    parameters = {p["name"]: p["schema"] for p in paths["/v1/job-logs"]["get"]["parameters"]}
    assert parameters["numRows"] == {"type": "integer", "minimum": 1, "maximum": 1000}
    assert parameters["startDate"] == {"type": "string"}  # (a date alone is taken too: not date-time)
    assert parameters["before"] == {"type": "boolean"}
    assert parameters["minPosition"]["type"] == "integer"


def test_the_described_bounds_and_bodies_are_the_servers(sqlite_db: str) -> None:
    with serving(sqlite_db) as served:
        described = document(served)
        _, created = served.call("POST", "/v1/jobs", SUBMIT)
        run = job_path(created["jobHandle"])[len("/v1/jobs/") :]
        for path, operations in described["paths"].items():
            concrete = path.replace("{jobHandle}", run).replace("{assetHandle}", "a%7C1")
            for parameter in operations.get("get", {}).get("parameters", []):
                most = parameter["schema"].get("maximum")
                if parameter["name"] not in ("numRows", "recordsPerPage", "limit"):  # how many rows
                    continue
                over = f"{concrete}?{parameter['name']}={(most or 1000) + 1}&companyHandle=acme"
                status, body = served.call("GET", over)
                # A maximum described is the server's, and no other bound is kept.
                assert (status == 400) == (most is not None), (over, body)
        # A payload is given under its kind's key, without the tag the ledger's types carry.
        for name, schema in described["components"]["schemas"].items():
            assert "kind" not in schema.get("properties", {}), name
            assert "kind" not in schema.get("required", ()), name
        for path, operations in described["paths"].items():
            for method, operation in operations.items():
                if "requestBody" in operation and not operation["requestBody"]["required"]:
                    status, body = served.call(method.upper(), path.replace("{jobHandle}", run), raw=b"")
                    assert status != 400, (method, path, body)


def test_every_path_the_server_answers_is_described(sqlite_db: str) -> None:
    served_paths = {
        "/v1/jobs",
        "/v1/batch",
        "/v1/jobs/{jobHandle}",
        "/v1/jobs/{jobHandle}/history",
        "/v1/jobs/{jobHandle}/log-details",
        *(f"/v1/jobs/{{jobHandle}}/{action}" for action in ("start", "progress", "log", "complete", "stop")),
        *(f"/v1/jobs/{{jobHandle}}/{action}" for action in ("pause", "resume", "execute")),
        "/v1/assets/{assetHandle}/job-logs",
        "/v1/active-jobs",
        "/v1/scheduled-jobs",
        "/v1/job-logs",
        "/v1/events",
        "/v1/position",
        "/v1/audit/digest",
        "/v1/tokens",
        "/v1/tokens/{tokenId}",
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/openapi.json",
        "/v1/docs",
    }
    with serving(sqlite_db) as served:
        assert set(document(served)["paths"]) == served_paths


def test_the_ledgers_own_bounds_are_described_and_kept(sqlite_db: str) -> None:
    with serving(sqlite_db) as served:
        schemas = document(served)["components"]["schemas"]
        progress = schemas["ReportProgress"]["properties"]["progress"]
        start = schemas["StartJob"]["properties"]
        _, created = served.call("POST", "/v1/jobs", SUBMIT)
        run = job_path(created["jobHandle"])
        assert start["serverName"]["minLength"] == 1
        assert served.call("POST", f"{run}/start", {"serverName": ""})[0] == 400
        below = start["totalSize"]["minimum"] - 1
        assert served.call("POST", f"{run}/start", {"serverName": "s", "totalSize": below})[0] == 400
        assert served.call("POST", f"{run}/start", {"serverName": "s", "totalSize": below + 1})[0] == 200
        assert (progress["minimum"], progress["maximum"]) == (0, 100)
        assert served.call("POST", f"{run}/progress", {"progress": progress["maximum"] + 1})[0] == 400
        assert served.call("POST", f"{run}/progress", {"progress": progress["minimum"] - 1})[0] == 400
        assert served.call("POST", f"{run}/progress", {"progress": progress["maximum"]})[0] == 200
