"""`jobledger serve` as a real process: commands over HTTP answered once durable, queries from the
views, errors as JSON with nothing appended, the event stream, and a clean or violent stop."""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_support import Served, job_path, open_sse, read_sse, serving

from jobledger.audit import chain
from jobledger.service.ledger import JobLedger

SUBMIT = {"companyHandle": "acme", "jobName": "nightly", "optimizeImagesJob": {"emailSetting": "All"}}


@pytest.fixture
def served(db: str, tmp_path: Path) -> Iterator[Served]:
    views = str(tmp_path / "views.db") if db.startswith("postgresql") else None
    with serving(db, views) as server:
        yield server


def event_count(server: Served) -> int:
    status, body = server.call("GET", "/v1/audit/digest")
    assert status == 200
    return int(body["events"])


def test_a_runner_drives_a_job_over_http_and_the_queries_see_it(served: Served) -> None:
    status, created = served.call("POST", "/v1/jobs", SUBMIT)
    assert status == 201 and created["position"] == 1
    handle = created["jobHandle"]
    assert served.call("POST", job_path(handle, "start"), {"serverName": "srv1", "totalSize": 10})[0] == 200
    status, progress = served.call(
        "POST",
        job_path(handle, "progress"),
        {
            "progress": 40,
            "progressMessage": "half",
            "taskProgressArray": [{"taskType": "Upload", "progress": 0.4}],
        },
    )
    assert status == 200 and progress["state"]["progress"] == 40
    rows = [
        {"logType": "UploadSuccess", "logMessage": f"f{n}.jpg", "assetName": f"f{n}.jpg"} for n in range(5)
    ]
    status, logged = served.call("POST", job_path(handle, "log"), rows)
    assert status == 200 and logged["rows"] == 5
    status, active = served.call("GET", f"/v1/active-jobs?minPosition={logged['position']}")
    assert status == 200 and active["position"] >= logged["position"]
    (row,) = active["activeJobArray"]
    assert row["jobHandle"] == handle and row["progress"] == 40 and row["state"] == "Running"
    for server in ("serverName", "server"):  # the IPS name, or the short one the CLI uses
        assert served.call("GET", f"/v1/active-jobs?{server}=elsewhere")[1]["activeJobArray"] == []
        assert len(served.call("GET", f"/v1/active-jobs?{server}=srv1")[1]["activeJobArray"]) == 1
    status, done = served.call("POST", job_path(handle, "complete"), {"message": "ok"})
    assert status == 200 and done["state"]["state"] == "Done" and done["state"]["outcome"] == "success"
    status, logs = served.call("GET", f"/v1/job-logs?companyHandle=acme&minPosition={done['position']}")
    assert [entry["jobHandle"] for entry in logs["jobLogArray"]] == [handle]
    assert logs["jobLogArray"][0]["fileSuccessCount"] == 5
    status, details = served.call(
        "GET",
        job_path(handle, "log-details") + f"?recordsPerPage=2&resultsPage=2&minPosition={done['position']}",
    )
    assert status == 200 and details["jobLog"]["detailTotalRows"] == 5
    assert [detail["logMessage"] for detail in details["jobLog"]["detailArray"]] == ["f2.jpg", "f3.jpg"]
    status, state = served.call("GET", job_path(handle) + "?version=2")
    assert status == 200 and state["job"]["state"] == "Running" and state["version"] == 2
    assert state["position"] >= done["position"]  # read from the store: every query names its position
    status, history = served.call("GET", job_path(handle, "history"))
    assert [event["event"] for event in history["events"]][:2] == ["Submitted", "Started"]
    assert history["position"] >= done["position"]
    status, first = served.call("GET", job_path(handle, "history") + "?limit=2")  # as history --limit 2
    assert status == 200 and first["events"] == history["events"][:2] and len(history["events"]) > 2
    status, text = served.call("GET", "/v1/events?after=0")
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["position"] for line in lines] == list(range(1, len(lines) + 1))
    assert len(lines) == event_count(served) == done["position"]
    status, digest = served.call("GET", f"/v1/audit/digest?minPosition={done['position']}")
    assert status == 200 and digest["position"] == digest["events"] == done["position"]
    assert digest["digest"].startswith(f"{done['position']}:")


def test_an_idempotent_submit_over_http_is_answered_as_a_replay(served: Served) -> None:
    key = {"Idempotency-Key": "req-1"}
    status, first = served.call("POST", "/v1/jobs", SUBMIT, key)
    assert status == 201
    status, again = served.call("POST", "/v1/jobs", SUBMIT, key)
    assert status == 200 and again == first
    # Later too, after the run moved on and other writes: the submit's own answer, marked.
    handle = first["jobHandle"]
    assert served.call("POST", job_path(handle, "start"), {"serverName": "s1"})[0] == 200
    assert served.call("POST", "/v1/jobs", {**SUBMIT, "jobName": "other"})[0] == 201
    conn = served.connection()
    conn.request(
        "POST", "/v1/jobs", body=json.dumps(SUBMIT), headers={**key, "content-type": "application/json"}
    )
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("idempotent-replayed") == "true"
    assert json.loads(response.read()) == first
    conn.close()
    status, conflict = served.call("POST", "/v1/jobs", {**SUBMIT, "description": "other"}, key)
    assert status == 409 and conflict["error"]["code"] == "idempotency_conflict"


TASK = {"taskType": "t"}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/v1/jobs", b"{not json", 400, "invalid_json"),
        ("POST", "/v1/jobs", {**SUBMIT, "jobNmae": "typo"}, 400, "invalid_body"),
        ("POST", "/v1/jobs", {"companyHandle": "acme", "jobName": "n"}, 400, "invalid_payload"),
        ("POST", "/v1/jobs", {**SUBMIT, "companyHandle": "a\nb"}, 400, "invalid_field"),
        ("POST", "/v1/jobs", {**SUBMIT, "at": "9999-01-01T00:00:00Z"}, 400, "clock_skew"),
        ("POST", "/v1/jobs", {**SUBMIT, "description": "x" * 20_000}, 400, "invalid_field"),
        ("POST", "RUN/progress", {"progress": 50.5}, 400, "invalid_body"),
        # Out of a bound or a vocabulary is invalid_value, wherever the bound is kept.
        ("POST", "RUN/complete", {"counters": {"fileSuccessCount": -1}}, 400, "invalid_value"),
        (
            "POST",
            "RUN/progress",
            {"progress": 5, "taskProgressArray": [TASK | {"progress": 1.5}]},
            400,
            "invalid_value",
        ),
        (
            "POST",
            "RUN/progress",
            {"progress": 5, "taskProgressArray": [TASK | {"taskState": "X"}]},
            400,
            "invalid_value",
        ),
        ("POST", "RUN/progress", {"progress": 10}, 409, "rule_broken"),
        ("POST", "RUN/complete", {}, 409, "rule_broken"),
        ("POST", "RUN/log", [], 400, "invalid_body"),
        ("POST", "RUN/log", {"logType": "Nope", "logMessage": "m"}, 400, "invalid_value"),
        ("POST", "RUN/start", {"serverName": "s", "totalSize": -1}, 400, "invalid_value"),
        ("POST", "RUN/start", {"serverName": ""}, 400, "invalid_value"),
        ("GET", "RUN?version=999", None, 400, "invalid_value"),
        ("GET", "RUN?asOf=2000-01-01T00:00:00Z", None, 400, "invalid_value"),
        ("POST", "RUN/dance", {}, 404, "not_found"),
        ("POST", "/v1/jobs/acme%7C%7Cnothing/start", {"serverName": "s"}, 404, "not_found"),
        ("GET", "/v1/jobs/acme%7C%7Cnothing", None, 404, "not_found"),
        ("GET", "/v1/nowhere", None, 404, "not_found"),
        ("GET", "/v1/job-logs?sortBy=Nope", None, 400, "bad_query"),
        ("GET", "/v1/events?name=Bogus", None, 400, "bad_query"),
        ("GET", "/v1/events?name=Submitted,Bogus", None, 400, "bad_query"),
        ("GET", "/v1/job-logs?numRows=ten", None, 400, "bad_query"),
        ("GET", "RUN/log-details?recordsPerPage=1001", None, 400, "bad_query"),
        ("PUT", "/v1/jobs", {}, 405, "method_not_allowed"),
        ("GET", "RUN/start", None, 405, "method_not_allowed"),
        ("POST", "/v1/active-jobs", {}, 405, "method_not_allowed"),
        ("DELETE", "RUN/log", None, 405, "method_not_allowed"),
        ("POST", "/v1/jobs", b"x" * (9 * 1024 * 1024), 413, "too_large"),
        ("POST", "/v1/jobs/acme%ZZx/start", {"serverName": "s"}, 400, "bad_request"),
        ("GET", "/v1/jobs/acme%7", None, 400, "bad_request"),
        ("DELETE", "/v1/jobs/acme%C3", None, 400, "bad_request"),  # not UTF-8
    ],
)
def test_bad_requests_get_one_json_error_and_leave_the_ledger_unchanged(
    served: Served, method: str, path: str, body: Any, status: int, code: str
) -> None:
    _, created = served.call("POST", "/v1/jobs", SUBMIT)  # a New run: no progress, no completion yet
    before = event_count(served)
    path = path.replace("RUN", job_path(created["jobHandle"]))
    raw = body if isinstance(body, bytes) else None
    got, answer = served.call(method, path, None if raw else body, raw=raw)
    assert (got, answer["error"]["code"]) == (status, code), answer
    assert "\n" not in answer["error"]["message"] and answer["error"]["message"]
    assert event_count(served) == before


@pytest.mark.parametrize("body", [b'{"companyHandle": ', b'"\\ud800"', b'{"companyHandle": "\xff"}'])
def test_malformed_json_says_so_whatever_the_decoder_found(served: Served, body: bytes) -> None:
    status, answer = served.call("POST", "/v1/jobs", raw=body)
    assert (status, answer["error"]["code"]) == (400, "invalid_json")
    assert answer["error"]["message"].startswith("JSON is malformed: "), answer


def test_a_log_array_with_a_broken_row_stores_none_of_its_rows_and_names_the_row(served: Served) -> None:
    _, created = served.call("POST", "/v1/jobs", SUBMIT)
    path = job_path(created["jobHandle"], "log")
    before = event_count(served)
    rows = [
        {"logType": "UploadSuccess", "logMessage": "a"},
        {"logType": "Nope", "logMessage": "b"},
        {"logType": "UploadSuccess", "logMessage": "c"},
    ]
    status, answer = served.call("POST", path, rows)
    assert status == 400 and answer["error"]["row"] == 1 and "Nope" in answer["error"]["message"]
    assert event_count(served) == before
    status, answer = served.call("POST", path, [rows[0], rows[2]])  # sent again, mended
    assert status == 200 and answer["rows"] == 2 and answer["state"]["detailTotalRows"] == 2
    assert event_count(served) == before + 2


def test_a_log_array_over_a_thousand_rows_is_refused_whole(served: Served) -> None:
    _, created = served.call("POST", "/v1/jobs", SUBMIT)
    before = event_count(served)
    rows = [{"logType": "UploadSuccess", "logMessage": f"f{n}"} for n in range(1001)]
    status, answer = served.call("POST", job_path(created["jobHandle"], "log"), rows)
    assert (status, answer["error"]["code"]) == (413, "too_large") and "1000" in answer["error"]["message"]
    assert event_count(served) == before
    status, answer = served.call("POST", job_path(created["jobHandle"], "log"), rows[:1000])
    assert status == 200 and answer["rows"] == 1000


def test_a_stream_subscriber_gets_history_then_live_events_and_resumes_from_its_last_id(
    served: Served,
) -> None:
    _, created = served.call("POST", "/v1/jobs", SUBMIT)
    handle = created["jobHandle"]
    with open_sse(served, "?after=0") as sock:
        (first,) = read_sse(sock, 1)
        assert first["id"] == 1 and first["event"] == "Submitted"
        started = time.monotonic()
        served.call("POST", job_path(handle, "start"), {"serverName": "srv1"})
        (live,) = read_sse(sock, 1)
        assert live["id"] == 2 and live["event"] == "Started" and time.monotonic() - started < 2
    served.call("POST", job_path(handle, "progress"), {"progress": 5})
    with open_sse(served, "?companyHandle=acme", last_id=2) as sock:
        (resumed,) = read_sse(sock, 1)
        assert resumed["id"] == 3 and resumed["event"] == "ProgressUpdated"
    with open_sse(served, "?companyHandle=globex") as sock:
        served.call("POST", "/v1/jobs", {**SUBMIT, "companyHandle": "globex"})
        (other,) = read_sse(sock, 1)
        assert other["data"]["companyHandle"] == "globex" and other["id"] == 4


def test_many_clients_at_once_are_committed_in_groups_and_every_answer_is_stored(served: Served) -> None:
    _, created = served.call("POST", "/v1/jobs", SUBMIT)
    handle = created["jobHandle"]
    served.call("POST", job_path(handle, "start"), {"serverName": "srv1"})
    positions: list[int] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        conn = served.connection()
        for row in range(25):
            body = json.dumps({"logType": "UploadSuccess", "logMessage": f"{number}-{row}"})
            conn.request(
                "POST", job_path(handle, "log"), body=body, headers={"content-type": "application/json"}
            )
            response = conn.getresponse()
            answer = json.loads(response.read())
            assert response.status == 200, answer
            with lock:
                positions.append(answer["position"])
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(positions)) == 400 and event_count(served) == 402
    _, metrics = served.call("GET", "/metrics")
    groups = float(
        next(
            line.split()[-1]
            for line in metrics.splitlines()
            if line.startswith("jobledger_group_commands_count")
        )
    )
    assert groups < 400  # some commands shared a commit
    assert 'jobledger_commands_total{kind="LogDetail",result="ok"} 400.0' in metrics
    for kind, count in (("Submitted", 1), ("Started", 1), ("DetailLogged", 400)):
        assert f'jobledger_events_total{{kind="{kind}"}} {count:.1f}' in metrics
    assert 'jobledger_active_runs{state="Running"} 1.0' in metrics
    assert "jobledger_active_companies 1.0" in metrics


def test_a_second_server_on_the_same_ledger_is_refused_in_one_line(sqlite_db: str) -> None:
    from click.testing import CliRunner

    from jobledger.cli.main import cli

    with serving(sqlite_db):
        result = CliRunner().invoke(cli, ["--db", sqlite_db, "serve", "--port", "1"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "already served" in result.output


def test_serve_takes_its_store_after_the_command_as_well(tmp_path: Path) -> None:
    db, views = str(tmp_path / "served.db"), str(tmp_path / "served-views.db")
    with serving(db, views, store_after=True) as served:
        status, answer = served.call("POST", "/v1/jobs", SUBMIT)
        assert status == 201
        query = f"includeWaitingJobs=true&minPosition={answer['position']}"
        status, active = served.call("GET", f"/v1/active-jobs?{query}")
        assert [row["jobHandle"] for row in active["activeJobArray"]] == [answer["jobHandle"]]
        assert served.stop() == 0
    assert os.path.getsize(views) > 0
    ledger = JobLedger(db)
    try:
        assert ledger.get_job(answer["jobHandle"]).originalName == "nightly"
    finally:
        ledger.close()


def test_serve_without_tokens_refuses_an_address_beyond_this_machine(sqlite_db: str) -> None:
    from click.testing import CliRunner

    from jobledger.cli.main import cli

    result = CliRunner().invoke(cli, ["--db", sqlite_db, "serve", "--no-auth", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "loopback" in result.output and not os.path.exists(sqlite_db)


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"Origin": "http://evil.example"}, "http://evil.example"),  # another site's page
        ({"Origin": "null"}, "null"),  # a sandboxed page or a file
        ({"Host": "evil.example:8080"}, "evil.example:8080"),  # a name rebound to 127.0.0.1
        ({"Host": "10.0.0.7"}, "10.0.0.7"),
    ],
)
def test_serve_without_tokens_answers_no_other_sites_pages(
    sqlite_db: str, headers: dict[str, str], named: str
) -> None:
    # Every caller of a server without tokens is an IpsAdmin: a page the operator opens must
    # not drive it with a form (a text/plain POST needs no preflight) or read it by DNS rebinding.
    with serving(sqlite_db) as served:
        status, answer = served.call("POST", "/v1/jobs", SUBMIT, headers=headers)
        read_status, _ = served.call("GET", "/v1/active-jobs", headers=headers)
        _, events = served.call("GET", "/v1/events")
        mine = [
            served.call("POST", "/v1/jobs", SUBMIT | {"jobName": f"n{n}"}, headers=ok)[0]
            for n, ok in enumerate(
                [{}, {"Origin": "http://127.0.0.1:8080"}, {"Host": "localhost:9"}, {"Host": "[::1]:9"}]
            )
        ]
    assert (status, answer["error"]["code"], read_status) == (403, "forbidden", 403)
    assert named in answer["error"]["message"]
    assert events == ""  # nothing appended
    assert mine == [201, 201, 201, 201]


def load(
    served: Served, handle: str, stop: threading.Event, acked: list[int], refused: list[str] | None = None
) -> None:
    conn = served.connection()
    number = 0
    try:
        while not stop.is_set():
            body = json.dumps({"logType": "UploadSuccess", "logMessage": f"row {number}"})
            conn.request(
                "POST", job_path(handle, "log"), body=body, headers={"content-type": "application/json"}
            )
            response = conn.getresponse()
            answer = json.loads(response.read())
            if response.status == 200:
                acked.append(answer["position"])
            elif refused is not None:
                refused.append(answer["error"]["code"])
            number += 1
    except (OSError, http.client.HTTPException):
        return  # the server went away
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("sig", "group"),
    [(signal.SIGKILL, False), (signal.SIGTERM, False), (signal.SIGTERM, True)],
    ids=["kill -9", "SIGTERM", "SIGTERM to the group"],
)
def test_every_acknowledged_command_survives_a_stop_under_load(
    db: str, tmp_path: Path, sig: int, group: bool
) -> None:
    views = str(tmp_path / "views.db") if db.startswith("postgresql") else None
    refused: list[str] = []
    with serving(db, views, group=group) as server:
        children = child_pids(server.process.pid)
        _, created = server.call("POST", "/v1/jobs", SUBMIT)
        handle = created["jobHandle"]
        server.call("POST", job_path(handle, "start"), {"serverName": "srv1"})
        stop = threading.Event()
        acked: list[int] = []
        threads = [
            threading.Thread(target=load, args=(server, handle, stop, acked, refused)) for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        code = server.stop(sig, group=group)
        stop.set()
        for thread in threads:
            thread.join()
    assert code == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
    assert len(acked) > 50
    if sig == signal.SIGTERM:  # every command taken is answered: at most refused as shutting down
        assert set(refused) <= {"shutting_down"}, refused
    # Its helpers (the views' follower; on PostgreSQL the writer) end with it, kill -9 included.
    assert children and wait_gone(children)
    with JobLedger(db, create=False) as ledger:
        head = ledger.head_position()
        assert max(acked) <= head
        rows = [event for event in ledger.history(handle)]
        assert len(rows) - 2 >= len(acked)
        assert chain.verify(ledger.reader) is None


def child_pids(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as listed:
        return [int(child) for child in listed.read().split()]


def wait_gone(pids: list[int], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(os.path.exists(f"/proc/{pid}") and not zombie(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False


def zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_writer_process_that_dies_is_replaced_and_nothing_it_answered_is_lost(
    postgres_url: str, tmp_path: Path
) -> None:
    with serving(postgres_url, str(tmp_path / "views.db")) as server:
        status, first = server.call("POST", "/v1/jobs", SUBMIT)
        assert status == 201
        (writer,) = [pid for pid in child_pids(server.process.pid) if b"writer_process" in cmdline(pid)]
        os.kill(writer, signal.SIGKILL)
        # Until the new writer is up, a command is refused with a 503 (never half-done), and
        # /readyz says why; then the server takes commands again.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, again = server.call("POST", "/v1/jobs", {**SUBMIT, "jobName": "after"})
            if status == 201:
                break
            assert status == 503 and again["error"]["code"] == "store_unavailable", again
            assert server.call("GET", "/readyz")[1]["status"] in ("writer restarting", "ready")
            time.sleep(0.1)
        assert status == 201 and server.call("GET", "/readyz")[0] == 200
        (replacement,) = [pid for pid in child_pids(server.process.pid) if b"writer_process" in cmdline(pid)]
        assert replacement != writer
        query = f"includeWaitingJobs=true&minPosition={again['position']}"
        rows = server.call("GET", f"/v1/active-jobs?{query}")[1]["activeJobArray"]
        assert {row["jobHandle"] for row in rows} == {first["jobHandle"], again["jobHandle"]}
        assert server.stop() == 0


def cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as text:
            return text.read()
    except FileNotFoundError:
        return b""


def test_job_logs_page_with_a_keyset_cursor_both_ways(served: Served) -> None:
    handles = []
    for number in range(7):
        status, created = served.call("POST", "/v1/jobs", {**SUBMIT, "jobName": f"run{number}"})
        assert status == 201
        handles.append(created["jobHandle"])
    last = created["position"]
    _, everything = served.call("GET", f"/v1/job-logs?minPosition={last}")
    expected = [row["jobHandle"] for row in everything["jobLogArray"]]
    assert sorted(expected) == sorted(handles) and "nextCursor" not in everything
    pages: list[list[str]] = []
    query = "numRows=3"
    while True:
        status, page = served.call("GET", f"/v1/job-logs?{query}")
        assert status == 200
        pages.append([row["jobHandle"] for row in page["jobLogArray"]])
        if page["nextCursor"] is None:
            break
        query = f"numRows=3&cursor={page['nextCursor']}"
    assert [len(rows) for rows in pages] == [3, 3, 1]
    assert [handle for rows in pages for handle in rows] == expected
    status, back = served.call("GET", f"/v1/job-logs?numRows=3&before=true&cursor={page['previousCursor']}")
    assert [row["jobHandle"] for row in back["jobLogArray"]] == pages[1]
    status, bad = served.call("GET", "/v1/job-logs?numRows=3&cursor=bm9wZQ")
    assert status == 400 and bad["error"]["message"].startswith("invalid cursor")


def test_a_method_a_path_does_not_take_is_a_405_that_names_the_ones_it_does(served: Served) -> None:
    _, created = served.call("POST", "/v1/jobs", SUBMIT)
    for path, allowed in (
        (job_path(created["jobHandle"], "start"), "POST"),
        ("/v1/active-jobs", "GET, HEAD"),
        (job_path(created["jobHandle"]), "GET, HEAD, DELETE"),
    ):
        connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
        connection.request("PATCH", path, body=b"{}")
        response = connection.getresponse()
        assert response.status == 405 and response.getheader("allow") == allowed
        assert json.loads(response.read())["error"]["code"] == "method_not_allowed"
        connection.close()


def test_a_last_event_id_past_the_largest_position_is_a_400(served: Served) -> None:
    for last_id in ("9223372036854775808", "99999999999999999999999", "-1", "x"):
        status, answer = served.call("GET", "/v1/events", headers={"last-event-id": last_id})
        assert (status, answer["error"]["code"]) == (400, "bad_request"), last_id
    status, _ = served.call("GET", "/v1/events", headers={"last-event-id": "9223372036854775807"})
    assert status == 200


@pytest.mark.parametrize("path", ["/v1/active-jobs?minPosition=999999999", "RUN?minPosition=999999999"])
def test_a_stop_answers_the_queries_waiting_for_a_position_at_once(sqlite_db: str, path: str) -> None:
    answers: list[tuple[int, Any, float]] = []
    with serving(sqlite_db) as server:
        _, created = server.call("POST", "/v1/jobs", SUBMIT)
        asked = path.replace("RUN", job_path(created["jobHandle"]))

        def wait() -> None:
            started = time.monotonic()
            status, answer = server.call("GET", asked)
            answers.append((status, answer, time.monotonic() - started))

        waiting = threading.Thread(target=wait)
        waiting.start()
        time.sleep(0.5)  # (the query is waiting for a position that will never come)
        stopped = time.monotonic()
        code = server.stop(signal.SIGTERM)
        took = time.monotonic() - stopped
        waiting.join()
    [(status, answer, _)] = answers
    assert code == 0 and took < 5, took  # not the query's 10 s wait first
    assert (status, answer["error"]["code"]) == (503, "shutting_down"), answer


def test_the_log_details_of_a_schedule_say_it_is_a_schedule(served: Served) -> None:
    daily = {**SUBMIT, "jobName": "daily", "execSchedule": "0 0 3 * * ? 2070"}
    _, created = served.call("POST", "/v1/jobs", daily)
    handle = created["jobHandle"]
    path = job_path(handle, "log-details") + f"?minPosition={created['position']}"
    status, answer = served.call("GET", path)
    assert (status, answer["error"]["code"]) == (409, "rule_broken")
    assert answer["error"]["message"] == f"{handle} is a schedule, not a run: the runs it fires have job logs"
    assert served.call("GET", job_path(handle))[0] == 200  # (it was a 404, as if it did not exist)


def test_an_execute_answer_names_the_run_it_made(served: Served) -> None:
    daily = {**SUBMIT, "jobName": "daily-run", "execSchedule": "0 0 3 * * ? 2070"}
    _, created = served.call("POST", "/v1/jobs", daily)
    status, executed = served.call("POST", job_path(created["jobHandle"], "execute"), {})
    assert status == 200 and executed["jobHandle"] == created["jobHandle"]
    assert executed["runHandle"] == executed["state"]["lastRunHandle"] != created["jobHandle"]
    status, run = served.call("GET", job_path(executed["runHandle"]) + f"?minPosition={executed['position']}")
    assert status == 200 and run["job"]["state"] == "New"
