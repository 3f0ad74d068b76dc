"""The views' query parameters over HTTP are checked as the CLI checks its options: a value the CLI
refuses is a 400 in its words, a spelling it takes finds the same runs, numbers stay in range, a
page with more rows after it says where they are, and a store read waits for `minPosition`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from click.testing import CliRunner
from samples import MINIMAL_PAYLOADS, OPTIMIZE
from server_support import Served, job_path, serving

from jobledger.cli.main import cli
from jobledger.domain.commands import Submit
from jobledger.domain.payloads import decode_payload
from jobledger.projections.checks import MAX_PAGE
from jobledger.service.ledger import JobLedger

BULK = 1003  # runs of company "bulk": more than one page of 1000


class Ledger:
    """The served ledger: an optimizeImagesJob running (with log rows), an uploadUrlsJob done, a
    New run waiting, and BULK New runs of another company."""

    def __init__(self, server: Served, running: str) -> None:
        self.server = server
        self.running = running

    def get(self, path: str) -> tuple[int, Any]:
        return self.server.call("GET", path)

    def cli(self, *args: str, server: bool = False) -> tuple[int, str, str]:
        where = ["--server", f"http://127.0.0.1:{self.server.port}"] if server else ["--db", self.server.db]
        result = CliRunner().invoke(cli, [*where, *args])
        return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    db = str(tmp_path_factory.mktemp("query-checks") / "ledger.db")
    with JobLedger(db) as book:
        running = book.submit("acme", "optimize", decode_payload("optimizeImagesJob", OPTIMIZE))
        book.start(running, "srv1")
        book.log_detail(running, "UploadSuccess", "a.jpg")
        book.log_detail(running, "UploadWarning", "b.jpg")
        upload = decode_payload("uploadUrlsJob", MINIMAL_PAYLOADS["uploadUrlsJob"][0])
        done = book.submit("acme", "upload", upload)
        book.start(done, "srv2")
        book.complete(done, message="ok")
        book.submit("acme", "waiting", upload)
        bulk = [Submit(company="bulk", name=f"n{i}", payload=upload) for i in range(BULK)]
        book.record(bulk)
    with serving(db) as server:
        yield Ledger(server, running)


def handles(rows: list[dict[str, Any]]) -> list[str]:
    return [row["jobHandle"] for row in rows]


# (HTTP path, its parameter, the same value given to the CLI); RUN is the running run's handle.
REFUSED = [
    ("/v1/active-jobs?type=Bogus", "type", ["active", "--type", "Bogus"]),
    ("/v1/active-jobs?state=Bogus", "state", ["active", "--state", "Bogus"]),
    ("/v1/active-jobs?state=Done", "state", ["active", "--state", "Done"]),
    ("/v1/job-logs?outcome=bogus", "outcome", ["logs", "--outcome", "bogus"]),
    ("/v1/job-logs?state=bogus", "state", ["logs", "--state", "bogus"]),
    ("/v1/job-logs?type=Bogus", "type", ["logs", "--type", "Bogus"]),
    ("/v1/job-logs?sortBy=Nope", "sortBy", ["logs", "--sort-by", "Nope"]),
    ("/v1/job-logs?sortDirection=Up&numRows=5", "sortDirection", ["logs", "--direction", "Up"]),
    ("RUN/log-details?logTypeArray=Bogus", "logTypeArray", ["details", "RUN", "--log-type", "Bogus"]),
    (
        "RUN/log-details?logTypeArray=UploadSuccess,Bogus",
        "logTypeArray",
        ["details", "RUN", "--log-type", "UploadSuccess", "--log-type", "Bogus"],
    ),
    ("RUN/log-details?sortBy=Nope", "sortBy", ["details", "RUN", "--sort-by", "Nope"]),
]


@pytest.mark.parametrize(
    ("path", "name", "args"), REFUSED, ids=[path.rpartition("/")[2] for path, _, _ in REFUSED]
)
def test_a_filter_value_the_cli_refuses_is_a_400_with_the_clis_message(
    ledger: Ledger, path: str, name: str, args: list[str]
) -> None:
    path = path.replace("RUN", job_path(ledger.running))
    code, _, err = ledger.cli(*(ledger.running if arg == "RUN" else arg for arg in args))
    assert code == 2
    # "Error: Invalid value for '--type': <the problem> (see 'jobledger active --help')"
    problem = err.split("': ", 1)[1].rsplit(" (see ", 1)[0]
    status, body = ledger.get(path)
    assert status == 400
    assert body == {"error": {"code": "bad_query", "message": f"Invalid value for '{name}': {problem}"}}


# Spellings the CLI takes, and the runs both find.
TAKEN = [
    ("active-jobs", "type", "optimizeImagesJob", ["active", "--type", "optimizeImagesJob"]),
    ("active-jobs", "type", "OPTIMIZEIMAGESJOB", ["active", "--type", "OPTIMIZEIMAGESJOB"]),
    ("active-jobs", "type", "imageoptimization", ["active", "--type", "imageoptimization"]),
    ("active-jobs", "state", "New", ["active", "--state", "New"]),
    ("job-logs", "type", "uploadUrlsJob", ["logs", "--type", "uploadUrlsJob", "--company", "acme"]),
    ("job-logs", "type", "optimizeImagesJob", ["logs", "--type", "optimizeImagesJob"]),
    ("job-logs", "outcome", "success", ["logs", "--outcome", "success"]),
    ("job-logs", "state", "Running", ["logs", "--state", "Running"]),
]


@pytest.mark.parametrize(("route", "name", "value", "args"), TAKEN, ids=[t[2] for t in TAKEN])
def test_a_spelling_the_cli_takes_finds_the_same_runs_over_http(
    ledger: Ledger, route: str, name: str, value: str, args: list[str]
) -> None:
    company = "&companyHandle=acme" if "acme" in args else ""
    status, body = ledger.get(f"/v1/{route}?{name}={value}{company}")
    assert status == 200
    found = handles(body["activeJobArray" if route == "active-jobs" else "jobLogArray"])
    code, out, _ = ledger.cli(*args, "--format", "json")
    assert code == 0 and found == handles(json.loads(out)) and found


def test_log_types_are_matched_as_the_cli_matches_them(ledger: Ledger) -> None:
    path = job_path(ledger.running, "log-details")
    status, body = ledger.get(f"{path}?logTypeArray=uploadsuccess&logTypeArray=UPLOADWARNING")
    assert status == 200
    types = ["--log-type", "uploadsuccess", "--log-type", "UPLOADWARNING"]
    code, out, _ = ledger.cli("details", ledger.running, *types, "--format", "json")
    assert code == 0
    assert body["jobLog"]["detailArray"] == json.loads(out)["detailArray"]
    assert [row["logType"] for row in body["jobLog"]["detailArray"]] == ["UploadSuccess", "UploadWarning"]


def refused(ledger: Ledger, query: str) -> tuple[str, str, str]:
    """The 400 bad_query `query` gets (RUN: the running job's path): its last parameter's name and
    value, and the message."""
    status, body = ledger.get(query.replace("RUN", job_path(ledger.running)))
    assert status == 400 and body["error"]["code"] == "bad_query", body
    name, _, value = query.rpartition("?")[2].rpartition("&")[2].partition("=")
    return name, value, body["error"]["message"]


@pytest.mark.parametrize(
    "query",
    [
        "/v1/job-logs?numRows=99999999999999",
        "/v1/job-logs?numRows=1001",
        "/v1/job-logs?numRows=0",
        "/v1/active-jobs?numRows=0",
        "/v1/scheduled-jobs?numRows=9223372036854775808",
        f"RUN/log-details?resultsPage={MAX_PAGE + 1}",
        "RUN/log-details?resultsPage=9223372036854775807",
        "RUN/log-details?recordsPerPage=0",
        "RUN?minPosition=-1",
        "RUN/history?minPosition=9223372036854775808",
    ],
)
def test_a_number_out_of_range_is_a_400(ledger: Ledger, query: str) -> None:
    name, value, message = refused(ledger, query)
    assert message.startswith(f"{name} must be between") and message.endswith(f"got {value}")


@pytest.mark.parametrize(
    "query",
    [
        "/v1/job-logs?startDate=0001-01-01T00:00:00Z",
        "/v1/job-logs?endDate=9999-12-31T23:59:59-05:00",
        "RUN?asOf=9999-12-31T23:59:59-05:00",
        "RUN?asOf=0001-01-01T00:00:00",
    ],
)
def test_a_time_out_of_range_is_a_400_naming_the_parameter(ledger: Ledger, query: str) -> None:
    name, _, message = refused(ledger, query)
    assert message.startswith(f"{name} ") and "is out of range: times go from 0001-01-02" in message


def test_a_time_without_a_zone_is_utc_as_on_the_cli(ledger: Ledger) -> None:
    status, zoned = ledger.get(job_path(ledger.running) + "?asOf=2100-01-01T00:00:00Z")
    assert status == 200
    assert ledger.get(job_path(ledger.running) + "?asOf=2100-01-01T00:00:00") == (status, zoned)


@pytest.mark.parametrize(
    ("query", "unknown"),
    [
        ("/v1/scheduled-jobs?limit=1", "limit"),
        ("/v1/active-jobs?bogus=1&state=Running", "bogus"),
        ("/v1/job-logs?numrows=5", "numrows"),
        ("RUN/log-details?logType=UploadSuccess", "logType"),
        ("RUN?version=1&asof=2026-01-01T00:00:00Z", "asof"),
        ("/v1/events?after=0&company=acme", "company"),
        ("/v1/position?x=1", "x"),
        ("/v1/position?minPosition=1", "minPosition"),
        ("/v1/tokens?foo=1", "foo"),
        ("/v1/active-jobs?includeWaiting", "includeWaiting"),  # bare: as misspelt as with a value
        ("/v1/job-logs?bogus=", "bogus"),
    ],
)
def test_a_parameter_the_query_does_not_take_is_a_400(ledger: Ledger, query: str, unknown: str) -> None:
    message = refused(ledger, query)[2]
    assert message.startswith(f"unknown query parameter {unknown!r}; this query takes")


def test_a_date_alone_is_its_midnight_as_on_the_cli(ledger: Ledger) -> None:
    status, dated = ledger.get("/v1/job-logs?startDate=2000-01-01&endDate=2100-01-01")
    assert status == 200 and dated["jobLogArray"]
    assert ledger.get("/v1/job-logs?startDate=2000-01-01T00:00:00Z&endDate=2100-01-01T00:00:00Z") == (
        status,
        dated,
    )
    assert ledger.get(job_path(ledger.running) + "?asOf=2100-01-01")[0] == 200
    assert ledger.get("/v1/job-logs?startDate=2100-01-01")[1]["jobLogArray"] == []
    code, out, err = ledger.cli("logs", "--since", "2000-01-01", "--format", "json")
    assert code == 0 and ledger.running in out, err


def test_a_bare_flag_is_true(ledger: Ledger) -> None:
    waiting = ledger.get("/v1/active-jobs?companyHandle=acme&includeWaitingJobs=true")
    assert ledger.get("/v1/active-jobs?companyHandle=acme&includeWaitingJobs") == waiting
    assert waiting != ledger.get("/v1/active-jobs?companyHandle=acme")


@pytest.mark.parametrize(
    ("query", "twice"),
    [
        ("/v1/active-jobs?numRows=1&numRows=2", "numRows"),
        ("/v1/active-jobs?serverName=a&server=b", "serverName"),
        ("/v1/job-logs?sortBy=date&sortBy=jobName", "sortBy"),
    ],
)
def test_a_parameter_given_twice_is_a_400(ledger: Ledger, query: str, twice: str) -> None:
    assert refused(ledger, query)[2] == f"query parameter {twice!r} is given more than once"


def test_the_array_parameters_may_repeat(ledger: Ledger) -> None:
    path = job_path(ledger.running, "log-details")
    repeated = ledger.get(path + "?logTypeArray=UploadSuccess&logTypeArray=UploadWarning")
    assert repeated[0] == 200 and len(repeated[1]["jobLog"]["detailArray"]) == 2
    assert ledger.get(path + "?logTypeArray=UploadSuccess,UploadWarning") == repeated


def test_the_server_filter_takes_either_spelling(ledger: Ledger) -> None:
    named = ledger.get("/v1/active-jobs?includeWaitingJobs=true&serverName=nowhere")
    assert named[0] == 200 and ledger.get("/v1/active-jobs?includeWaitingJobs=true&server=nowhere") == named


def test_the_last_page_of_details_a_64_bit_offset_holds_is_answered(ledger: Ledger) -> None:
    status, body = ledger.get(job_path(ledger.running, "log-details") + f"?resultsPage={MAX_PAGE}")
    assert status == 200 and body["jobLog"]["detailArray"] == []


@pytest.mark.parametrize("size", [7, 1000])
def test_a_page_with_rows_after_it_always_carries_next_cursor(ledger: Ledger, size: int) -> None:
    seen: list[str] = []
    query = f"companyHandle=bulk&numRows={size}"
    while True:
        status, page = ledger.get(f"/v1/job-logs?{query}")
        assert status == 200 and len(page["jobLogArray"]) <= size
        seen += handles(page["jobLogArray"])
        if page["nextCursor"] is None:
            break
        assert len(page["jobLogArray"]) == size
        query = f"companyHandle=bulk&numRows={size}&cursor={page['nextCursor']}"
    status, whole = ledger.get("/v1/job-logs?companyHandle=bulk")
    assert status == 200 and "nextCursor" not in whole  # no numRows, no cursor: every row
    assert seen == handles(whole["jobLogArray"]) and len(seen) == BULK


@pytest.mark.parametrize("limit", ["1002", "1000", "7"])
def test_the_cli_with_server_follows_the_pages_past_1000(ledger: Ledger, limit: str) -> None:
    args = ["logs", "--company", "bulk", "--limit", limit, "--format", "json"]
    code, remote, err = ledger.cli(*args, server=True)
    assert code == 0, err
    code, local, _ = ledger.cli(*args)
    assert code == 0 and json.loads(remote) == json.loads(local) and len(json.loads(local)) == int(limit)


def test_a_store_read_waits_for_its_min_position_and_answers_at_it(ledger: Ledger) -> None:
    head = ledger.get("/v1/position")[1]["position"]
    paths = [job_path(ledger.running), job_path(ledger.running, "history")]
    with ThreadPoolExecutor(len(paths)) as pool:
        waiting = [pool.submit(ledger.get, f"{path}?minPosition={head + 1}") for path in paths]
        time.sleep(0.5)
        assert not any(future.done() for future in waiting)  # position head + 1 is not stored yet
        status, done = ledger.server.call("POST", job_path(ledger.running, "progress"), {"progress": 50})
        assert status == 200 and done["position"] == head + 1
        (status, state), (history_status, history) = (future.result(30) for future in waiting)
    assert status == 200 and state["position"] >= head + 1 and state["job"]["progress"] == 50
    assert history_status == 200 and history["position"] >= head + 1
    assert history["events"][-1]["event"] == "ProgressUpdated"


def test_a_min_position_never_reached_is_a_503_from_the_store_as_from_the_views(ledger: Ledger) -> None:
    far = ledger.get("/v1/position")[1]["position"] + 1000
    paths = ["/v1/active-jobs", job_path(ledger.running), job_path(ledger.running, "history")]
    started = time.monotonic()
    with ThreadPoolExecutor(len(paths)) as pool:
        answers = list(pool.map(ledger.get, [f"{path}?minPosition={far}" for path in paths]))
    assert time.monotonic() - started >= 9  # each waited (10 s) before it gave up
    assert [status for status, _ in answers] == [503] * len(paths)
    assert {body["error"]["code"] for _, body in answers} == {"views_behind"}
