"""The dashboard over plain HTTP, as a browser without JavaScript uses it, on a real server with tokens.

Sessions (the cookie's flags, `next` that never leaves the site), every page rendered on the server,
actions through forms (CSRF-checked, then the API's own roles and company scoping), keyset paging
of the job logs, the chain's verification, and bad queries answered with a page of their own.

One server serves the module. It is seeded before it starts with 123 finished runs of company
`bulk` (for paging) and three live runs of company `filt` (for the filters); each test makes the
runs and schedules it changes through the API.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import pytest
from samples import at
from server_support import Served, job_path, serving

from jobledger.domain.commands import Command, Complete, Start, Submit
from jobledger.domain.payloads import ExportJob, OptimizeImagesJob, UploadUrlsJob
from jobledger.service.ledger import JobLedger

OPTIMIZE = {"optimizeImagesJob": {"emailSetting": "All"}}
ROLES = {
    "admin": ("acme", "IpsAdmin"),
    "cadmin": ("acme", "IpsCompanyAdmin"),
    "user": ("acme", "IpsUser"),
    "reader": ("acme", "ReadOnly"),
    "globex-reader": ("globex", "ReadOnly"),
}
BULK_RUNS = 123  # the job logs show 50 a page: three pages, the last one short
FORM = {"content-type": "application/x-www-form-urlencoded"}


# --- reading pages ---------------------------------------------------------------------------------


class _Scan(HTMLParser):
    """The parts of a page the tests look at: headings, notices, rows, links, forms' fields."""

    CAPTURED = ("h1", "title")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str], str]] = []  # (tag, attributes, enclosing table id)
        self.texts: dict[str, list[str]] = {}  # "h1", "title", "notice", "error": their text
        self._tables: list[str] = []
        self._open: list[tuple[str, str | None]] = []  # (tag, what its text is captured as)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "table":
            self._tables.append(values.get("id", ""))
        self.tags.append((tag, values, self._tables[-1] if self._tables else ""))
        if tag in ("input", "meta", "link", "br", "img"):
            return
        classes = values.get("class", "").split()
        kind = tag if tag in self.CAPTURED else next((c for c in ("notice", "error") if c in classes), None)
        self._open.append((tag, kind))
        if kind is not None:
            self.texts.setdefault(kind, []).append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._tables:
            self._tables.pop()
        while self._open:
            opened, _ = self._open.pop()
            if opened == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, kind in self._open:
            if kind is not None:
                self.texts[kind][-1] += data


class Page:
    """One answer: its status, headers and body, and what the body holds."""

    def __init__(self, status: int, headers: dict[str, str], set_cookies: list[str], text: str) -> None:
        self.status = status
        self.headers = headers
        self.set_cookies = set_cookies
        self.text = text
        self._scan: _Scan | None = None

    @property
    def scan(self) -> _Scan:
        if self._scan is None:
            self._scan = _Scan()
            self._scan.feed(self.text)
        return self._scan

    def said(self, kind: str) -> str:
        """The text of the page's h1, title, notice or error (collapsed spaces; "" if none)."""
        texts = self.scan.texts.get(kind, [])
        if kind == "title":  # the page's, not a chart's
            texts = texts[:1]
        return " ".join(" ".join(texts).split())

    @property
    def location(self) -> str:
        return self.headers.get("location", "")

    @property
    def csrf(self) -> str:
        (body,) = [attrs for tag, attrs, _ in self.scan.tags if tag == "body"]
        return body["data-csrf"]

    def handles(self, table: str) -> list[str]:
        """The runs a table lists: its rows' data-handle, or its run links."""
        found = [
            attrs["data-handle"]
            for tag, attrs, t in self.scan.tags
            if t == table and tag == "tr" and "data-handle" in attrs
        ]
        if found:
            return found
        return [
            _handle_of(attrs["href"])
            for tag, attrs, t in self.scan.tags
            if t == table and tag == "a" and attrs.get("href", "").startswith("/runs/")
        ]

    def link(self, rel: str) -> str | None:
        hrefs = [attrs["href"] for tag, attrs, _ in self.scan.tags if tag == "a" and attrs.get("rel") == rel]
        return hrefs[0] if hrefs else None

    def actions(self) -> list[tuple[str, str]]:
        """(action, handle) of every action link."""
        return [
            (attrs["data-action"], attrs.get("data-handle", ""))
            for tag, attrs, _ in self.scan.tags
            if "data-action" in attrs
        ]

    def hidden(self, name: str) -> list[str]:
        return [
            attrs.get("value", "")
            for tag, attrs, _ in self.scan.tags
            if tag == "input" and attrs.get("type") == "hidden" and attrs.get("name") == name
        ]


def _handle_of(path: str) -> str:
    return unquote(path.removeprefix("/runs/"))


def run_path(handle: str) -> str:
    return "/runs/" + quote(handle, safe="")


# --- a browser without JavaScript --------------------------------------------------------------------


class Browser:
    """Requests with a cookie jar of one cookie (the session); redirects are not followed."""

    def __init__(self, server: Served) -> None:
        self.server = server
        self.session = ""

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Page:
        sent = dict(headers or {})
        if self.session:
            sent["cookie"] = f"jobledger_session={self.session}"
        body = None
        if form is not None:
            body = urlencode(form)
            sent.update(FORM)
        conn = self.server.connection()
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            text = response.read().decode()
            cookies = [value for name, value in response.getheaders() if name.lower() == "set-cookie"]
            page = Page(response.status, {k.lower(): v for k, v in response.getheaders()}, cookies, text)
        finally:
            conn.close()
        for cookie in cookies:
            name, _, rest = cookie.partition("=")
            if name == "jobledger_session":
                value, _, flags = rest.partition(";")
                self.session = "" if "max-age=0" in flags.lower() else value
        return page

    def get(self, path: str) -> Page:
        return self.request("GET", path)

    def post(self, path: str, **form: str) -> Page:
        return self.request("POST", path, form)

    def log_in(self, token: str, nxt: str = "/") -> Page:
        return self.post("/login", token=token, next=nxt)

    def act(self, action: str, handle: str, back: str = "/", csrf: str | None = None) -> Page:
        """Press an action's button: the confirmation page's form, with the page's CSRF token."""
        confirm = self.get(f"/confirm?{urlencode({'action': action, 'handle': handle, 'back': back})}")
        assert confirm.status == 200, confirm.text
        (target,) = [
            a["action"] for _, a, _ in confirm.scan.tags if a.get("action", "").startswith("/actions/")
        ]
        token = confirm.csrf
        return self.post(target, csrf=token if csrf is None else csrf, back=confirm.hidden("back")[0])

    def press(self, action: str, handle: str, back: str = "/") -> Page:
        """Post an action's form without its confirmation page (a role that may not act gets no
        confirmation page): the session's CSRF token from the home page."""
        return self.post(f"/actions/{action}/{quote(handle, safe='')}", csrf=self.get("/").csrf, back=back)


# --- the served ledger -------------------------------------------------------------------------------


class Site:
    """The server, a token and a logged-in browser per role, and the API as the admin calls it."""

    def __init__(self, server: Served, tokens: dict[str, str], bulk: list[str], filt: dict[str, str]) -> None:
        self.server = server
        self.tokens = tokens
        self.bulk = bulk  # the bulk runs' handles
        self.filt = filt  # "a", "b", "c": the filter runs' handles
        self.browsers: dict[str, Browser] = {}
        self._stderr = ""
        assert server.process.stderr is not None
        os.set_blocking(server.process.stderr.fileno(), False)

    def browser(self, who: str) -> Browser:
        """A browser logged in as `who` (through the login form, once)."""
        if who not in self.browsers:
            browser = Browser(self.server)
            assert browser.log_in(self.tokens[who]).status == 303
            self.browsers[who] = browser
        return self.browsers[who]

    def api(self, method: str, path: str, body: Any = None, who: str = "admin") -> tuple[int, Any]:
        return self.server.call(method, path, body, headers={"authorization": f"Bearer {self.tokens[who]}"})

    def position(self) -> int:
        status, body = self.api("GET", "/v1/position")
        assert status == 200
        return int(body["position"])

    def caught_up(self) -> None:
        """Wait until the views hold every event (the active page waits for minPosition)."""
        assert self.browser("admin").get(f"/?minPosition={self.position()}").status == 200

    def submit(self, company: str = "acme", who: str = "user", **fields: Any) -> str:
        status, run = self.api(
            "POST", "/v1/jobs", {"companyHandle": company, "jobName": "web", **OPTIMIZE, **fields}, who
        )
        assert status == 201, run
        return str(run["jobHandle"])

    def state(self, handle: str) -> dict[str, Any]:
        status, record = self.api("GET", job_path(handle))
        assert status == 200, record
        return dict(record["job"])

    def stderr(self) -> str:
        """What the server wrote to stderr so far."""
        assert self.server.process.stderr is not None
        try:
            while chunk := self.server.process.stderr.read(65536):
                self._stderr += chunk.decode(errors="replace")
        except BlockingIOError:
            pass
        return self._stderr


def _seed(ledger: JobLedger) -> tuple[list[str], dict[str, str]]:
    """123 finished runs of `bulk` (started three at a time in the same second, so the sort has
    ties), and three live runs of `filt` that differ in state, type and server."""
    submits = [
        Submit(company="bulk", name=f"bulk-{j:03}", payload=OptimizeImagesJob(emailSetting="All"), at=at(j))
        for j in range(BULK_RUNS)
    ]
    bulk = [job.jobHandle for job in ledger.record(submits)]
    commands: list[Command] = []
    for j, handle in enumerate(bulk):
        commands.append(Start(handle=handle, server="bulk-app", at=at(1000 + j // 3)))
        commands.append(Complete(handle=handle, at=at(2000 + j)))
    ledger.record(commands)
    a = ledger.submit("filt", "filt-a", OptimizeImagesJob(emailSetting="All"), at=at(10))
    b = ledger.submit(
        "filt",
        "filt-b",
        UploadUrlsJob(overwrite=False, readyForPublish=True, createMask=False, emailSetting="All"),
        at=at(11),
    )
    c = ledger.submit(
        "filt", "filt-c", ExportJob(assetHandleArray=["a|x"], fmt="orig", emailSetting="All"), at=at(12)
    )
    ledger.start(a, "srv-a", at=at(20))
    ledger.start(c, "srv-c", at=at(21))
    return bulk, {"a": a, "b": b, "c": c}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    db = str(tmp_path_factory.mktemp("dashboard") / "ledger.db")
    with JobLedger(db) as ledger:
        tokens = {
            who: ledger.create_token(company, role, name=who).secret for who, (company, role) in ROLES.items()
        }
        bulk, filt = _seed(ledger)
    with serving(db, auth=True) as server:
        yield Site(server, tokens, bulk, filt)


@pytest.fixture(scope="module")
def schedule(site: Site) -> str:
    """An acme schedule that fires at 03:00 on the 1st of January only (not during the tests)."""
    return site.submit(who="cadmin", jobName="yearly", execSchedule="0 0 3 1 1 ? 2070")


# --- sessions ----------------------------------------------------------------------------------------


def test_a_bad_token_gets_the_login_page_again_with_401_and_no_cookie(site: Site) -> None:
    browser = Browser(site.server)
    page = browser.log_in("jlt_0000_nope", "/logs")
    assert page.status == 401
    assert page.set_cookies == [] and browser.session == ""
    assert "not valid" in page.said("error")
    assert page.hidden("next") == ["/logs"]  # still on its way to where it was going
    assert browser.get("/logs").status == 303


def test_the_right_token_sets_an_http_only_strict_cookie_for_the_whole_site(site: Site) -> None:
    browser = Browser(site.server)
    page = browser.log_in(site.tokens["reader"], "/logs?outcome=success")
    assert page.status == 303 and page.location == "/logs?outcome=success"
    (cookie,) = page.set_cookies
    name_value, *flags = [part.strip() for part in cookie.split(";")]
    assert name_value == f"jobledger_session={site.tokens['reader']}"
    assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= set(flags)
    assert not any(flag.lower().startswith(("max-age", "expires")) for flag in flags)  # a session cookie
    assert browser.get("/logs").status == 200


@pytest.mark.parametrize(
    "nxt",
    [
        "//evil.com",
        "//evil.com/logs",
        "http://evil",
        "https://evil.com/",
        "javascript:alert(1)",
        "evil.com",
        "/\\evil.com",  # browsers read a backslash as a slash: //evil.com
        "/\t/evil.com",  # and drop tabs and newlines from a URL: //evil.com
        "/\n/evil.com",
        "/\r\nSet-Cookie: x=1",
        "",
    ],
)
def test_next_never_leads_off_the_site(site: Site, nxt: str) -> None:
    browser = Browser(site.server)
    page = browser.log_in(site.tokens["reader"], nxt)
    assert page.status == 303 and page.location == "/"
    login = browser.get(f"/login?{urlencode({'next': nxt})}")
    assert login.status == 200 and login.hidden("next") == ["/"]
    failed = Browser(site.server).log_in("jlt_0000_nope", nxt)
    assert failed.status == 401 and failed.hidden("next") == ["/"]


def test_an_actions_back_never_leads_off_the_site(site: Site) -> None:
    reader = site.browser("reader")
    handle = site.submit()
    for back in ("//evil.com", "/\\evil.com", "https://evil.com"):
        page = reader.post(f"/actions/stop/{quote(handle, safe='')}", csrf=reader.get("/").csrf, back=back)
        assert page.status == 303 and page.location.startswith("/?notice="), page.location
    confirm = site.browser("user").get(
        f"/confirm?{urlencode({'action': 'stop', 'handle': handle, 'back': 'javascript:alert(1)'})}"
    )
    assert confirm.status == 200
    cancel = [
        a["href"]
        for tag, a, _ in confirm.scan.tags
        if tag == "a" and a.get("href", "").startswith("javascript")
    ]
    assert cancel == [] and confirm.hidden("back") == ["/"]


def test_a_page_without_a_session_redirects_to_the_login_with_next(site: Site) -> None:
    browser = Browser(site.server)
    for path in ("/", "/logs?outcome=errors", "/schedules", "/activity", "/audit", run_path(site.bulk[0])):
        page = browser.get(path)
        assert page.status == 303
        target = urlsplit(page.location)
        assert target.path == "/login" and parse_qs(target.query)["next"] == [path]
    # An action without a session is refused before anything else: no CSRF token can match.
    assert browser.post(f"/actions/stop/{quote(site.bulk[0], safe='')}", csrf="x").status == 403


def test_log_out_clears_the_cookie_and_needs_the_csrf_token(site: Site) -> None:
    browser = Browser(site.server)
    browser.log_in(site.tokens["user"])
    csrf = browser.get("/").csrf
    assert browser.post("/logout", csrf="0" * 32).status == 403
    assert browser.get("/").status == 200  # still logged in
    page = browser.post("/logout", csrf=csrf)
    assert page.status == 303 and page.location == "/login"
    (cookie,) = page.set_cookies
    assert cookie.startswith("jobledger_session=;") and "Max-Age=0" in cookie
    assert browser.session == ""
    assert browser.get("/").status == 303


# --- every page, without JavaScript ------------------------------------------------------------------

HEADINGS = [
    ("/", "Active jobs"),
    ("/logs", "Job logs"),
    ("/schedules", "Schedules"),
    ("/activity", "Activity, the last 24 hours"),
    ("/audit", "Audit"),
]


@pytest.mark.parametrize(("path", "heading"), HEADINGS)
def test_every_page_answers_an_admin_with_its_heading(site: Site, path: str, heading: str) -> None:
    page = site.browser("admin").get(path)
    assert page.status == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.said("h1") == heading
    assert page.said("title") == f"{heading.split(',')[0]} · jobledger"
    assert re.fullmatch(r"[0-9a-f]{32}", page.csrf)


def test_a_run_submitted_through_the_api_is_on_the_pages_without_javascript(site: Site) -> None:
    handle = site.submit(jobName="nojs", description="spring catalogue")
    assert site.api("POST", job_path(handle, "start"), {"serverName": "srv-nojs"}, "user")[0] == 200
    progress = {
        "progress": 40,
        "progressMessage": "uploading",
        "taskProgressArray": [{"taskType": "Upload", "progress": 0.4, "numProcessed": 4, "numPending": 6}],
    }
    assert site.api("POST", job_path(handle, "progress"), progress, "user")[0] == 200
    rows = [
        {"logType": "UploadSuccess", "logMessage": "shoe.tif uploaded", "assetName": "shoe.tif"},
        {"logType": "UploadWarning", "logMessage": "boot.tif has no profile", "assetName": "boot.tif"},
    ]
    assert site.api("POST", job_path(handle, "log"), rows, "user")[0] == 200
    site.caught_up()
    admin = site.browser("admin")

    active = admin.get("/")
    assert handle in active.handles("active")
    row = re.search(rf'<tr id="run-{re.escape(handle)}".*?</tr>', active.text, re.S)
    assert row is not None
    assert 'data-state="Running"' in row.group() and ">srv-nojs<" in row.group() and ">40%<" in row.group()
    assert ">uploading<" in row.group()

    page = admin.get(run_path(handle))
    assert page.status == 200 and page.said("h1").startswith(f"{handle.split('||')[1]} Running")
    for field, value in [
        ("Company", "acme"),
        ("Type", "ImageOptimization"),
        ("Server", "srv-nojs"),
        ("Description", "spring catalogue"),
    ]:
        assert f"<dt>{field}</dt><dd>{value}</dd>" in page.text
    assert "1 succeeded · 1 warned" in " ".join(page.text.split())
    assert "Log details (2)" in page.text
    details = page.text.split('id="details-table"')[1].split("</table>")[0]
    assert "shoe.tif uploaded" in details and "boot.tif has no profile" in details
    assert '<th scope="row">Upload</th>' in page.text  # the task's row
    timeline = re.findall(r"<strong>(\w+)</strong>", page.text.split('id="timeline"')[1])
    assert timeline == ["Submitted", "Started", "ProgressUpdated", "DetailLogged", "DetailLogged"]

    offered = [a["value"] for tag, a, _ in page.scan.tags if tag == "input" and a.get("name") == "logType"]
    assert offered == ["UploadSuccess", "UploadWarning"]  # the log types the run has
    only_warnings = admin.get(run_path(handle) + "?logType=UploadWarning")
    details = only_warnings.text.split('id="details-table"')[1].split("</table>")[0]
    assert "boot.tif has no profile" in details and "shoe.tif uploaded" not in details

    pager = " ".join(
        admin.get(run_path(handle) + "?perPage=1&page=2")
        .text.split('aria-label="Detail pages"')[1]
        .split("</nav>")[0]
        .split()
    )
    assert "page 2 of 2" in pager and "page=1" in pager and "page=3" not in pager
    past = admin.get(run_path(handle) + "?perPage=1&page=9")
    pager = " ".join(past.text.split('aria-label="Detail pages"')[1].split("</nav>")[0].split())
    assert past.status == 200 and "page 9 is past the last (2)" in pager and "of 2" not in pager
    assert "page=2" in pager and "Last page" in pager  # a way back to the rows


def test_the_fragment_of_active_rows_is_the_rows_of_one_run(site: Site) -> None:
    handle = site.submit(jobName="fragment")
    position = site.position()
    page = site.browser("user").get(
        f"/fragments/active-rows?{urlencode({'jobHandle': handle, 'minPosition': position})}"
    )
    assert page.status == 200
    assert page.text.lstrip().startswith("<tr") and "<html" not in page.text
    assert page.handles("") == [handle]
    assert page.actions() == [("stop", handle)]


def test_the_schedules_page_lists_a_schedule_and_its_page_its_fields(site: Site, schedule: str) -> None:
    site.caught_up()
    listed = site.browser("reader").get("/schedules")
    assert listed.status == 200 and schedule in listed.handles("schedules")
    page = site.browser("reader").get(run_path(schedule))
    assert page.status == 200 and "<code>0 0 3 1 1 ? 2070</code> in UTC" in page.text
    state = site.state(schedule)
    assert state["name"].startswith("yearly")
    assert page.said("h1") == f"{state['name']} {state['triggerState']}"


def test_the_activity_page_counts_the_runs_started_today(site: Site) -> None:
    handle = site.submit(jobName="active-today")
    assert site.api("POST", job_path(handle, "start"), {"serverName": "srv-1"}, "user")[0] == 200
    site.caught_up()
    page = site.browser("admin").get("/activity?company=acme")
    assert page.status == 200
    started = re.search(r"([\d,]+) runs started in the last 24 hours", page.text)
    assert started is not None and int(started.group(1).replace(",", "")) >= 1
    # The bulk runs started on 2026-01-01: long before the last 24 hours.
    bulk = site.browser("admin").get("/activity?company=bulk")
    assert "0 runs started in the last 24 hours" in bulk.text and "0 runs finished" in bulk.text


# --- roles and companies -----------------------------------------------------------------------------


def test_a_read_only_session_sees_no_action_on_any_page(site: Site, schedule: str) -> None:
    handle = site.submit(jobName="looked-at")
    site.caught_up()
    for who, expected in (("reader", False), ("cadmin", True)):
        browser = site.browser(who)
        for path in ("/", run_path(handle), "/schedules", run_path(schedule)):
            page = browser.get(path)
            assert page.status == 200
            assert bool(page.actions()) is expected, (who, path, page.actions())


def test_a_read_only_sessions_stop_fails_with_the_apis_403_and_appends_nothing(site: Site) -> None:
    handle = site.submit(jobName="not-yours-to-stop")
    reader = site.browser("reader")
    before = site.position()
    page = reader.press("stop", handle)
    assert page.status == 303
    notice = reader.get(page.location)
    assert notice.said("notice") == "stop failed: a ReadOnly token may not submit or drive jobs"
    assert site.position() == before and site.state(handle)["state"] == "New"


def test_another_companys_run_is_a_404_page(site: Site) -> None:
    globex = site.browser("globex-reader")
    handle = site.submit(jobName="acme-only")
    for path in (run_path(handle), f"/confirm?{urlencode({'action': 'stop', 'handle': handle})}"):
        page = globex.get(path)
        assert page.status == 404
        assert page.said("h1") == "404" and page.said("title") == "404 · jobledger"
        assert handle in page.said("error"), page.said("error")
    assert site.browser("reader").get(run_path(handle)).status == 200


def test_a_company_session_sees_only_its_companys_rows(site: Site) -> None:
    site.submit(jobName="mine")
    site.caught_up()
    page = site.browser("reader").get("/?company=bulk")
    assert page.status == 404  # another company, as the API answers
    active = site.browser("reader").get("/")
    assert active.handles("active") and all(h.startswith("acme||") for h in active.handles("active"))
    logs = site.browser("reader").get("/logs")
    assert logs.handles("logs") and all(h.startswith("acme||") for h in logs.handles("logs"))


# --- actions -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("csrf", [None, "", "0" * 32, "wrong"])
def test_an_action_without_the_right_csrf_token_is_403_and_appends_nothing(
    site: Site, csrf: str | None
) -> None:
    handle = site.submit(jobName="guarded")
    user = site.browser("user")
    before = site.position()
    form = {"back": "/"} if csrf is None else {"back": "/", "csrf": csrf}
    page = user.request("POST", f"/actions/stop/{quote(handle, safe='')}", form)
    assert page.status == 403 and "expired" in page.said("error")
    assert site.position() == before and site.state(handle)["state"] == "New"


def test_another_sessions_csrf_token_is_refused(site: Site) -> None:
    handle = site.submit(jobName="cross")
    before = site.position()
    page = site.browser("user").act("stop", handle, csrf=site.browser("cadmin").get("/").csrf)
    assert page.status == 403
    assert site.position() == before


def test_the_api_with_the_cookie_needs_the_csrf_header_for_a_change(site: Site) -> None:
    handle = site.submit(jobName="cookie-api")
    user = site.browser("user")
    path = job_path(handle, "stop")
    before = site.position()
    refused = user.request("POST", path, headers={"content-type": "application/json"})
    assert refused.status == 403 and '"csrf"' in refused.text
    wrong = user.request("POST", path, headers={"content-type": "application/json", "x-csrf-token": "0" * 32})
    assert wrong.status == 403
    assert site.position() == before
    assert user.get(job_path(handle)).status == 200  # a read needs no header
    done = user.request(
        "POST", path, headers={"content-type": "application/json", "x-csrf-token": user.get("/").csrf}
    )
    assert done.status == 200, done.text
    assert site.state(handle)["state"] == "Done"  # a New run stops at once
    assert site.position() > before


def test_stop_through_the_form_moves_a_running_run_to_stopping(site: Site) -> None:
    handle = site.submit(jobName="to-stop")
    assert site.api("POST", job_path(handle, "start"), {"serverName": "srv-1"}, "user")[0] == 200
    site.caught_up()
    user = site.browser("user")
    back = run_path(handle)
    assert ("stop", handle) in user.get(back).actions()
    page = user.act("stop", handle, back=back)
    assert page.status == 303 and page.location.startswith(back + "?notice=")
    shown = user.get(page.location)
    assert shown.said("notice") == f"stop: {handle} is now Stopping"
    assert site.state(handle)["state"] == "Stopping"
    assert ("stop", handle) not in shown.actions()  # a stopping run cannot be stopped again


def test_a_company_admin_pauses_resumes_and_executes_a_schedule_through_the_forms(
    site: Site, schedule: str
) -> None:
    cadmin = site.browser("cadmin")
    assert site.state(schedule)["triggerState"] == "Normal"
    site.caught_up()
    assert ("pause", schedule) in cadmin.get("/schedules").actions()

    page = cadmin.act("pause", schedule, back="/schedules")
    assert (
        page.status == 303 and cadmin.get(page.location).said("notice") == f"pause: {schedule} is now Paused"
    )
    assert site.state(schedule)["triggerState"] == "Paused"
    site.caught_up()
    assert ("resume", schedule) in cadmin.get("/schedules").actions()

    page = cadmin.act("resume", schedule, back=page.location)  # back to the page with the notice
    assert cadmin.get(page.location).said("notice") == f"resume: {schedule} is now Normal"
    assert page.location.count("notice=") == 1  # the new notice, not both
    assert site.state(schedule)["triggerState"] == "Normal"

    runs = site.state(schedule).get("runCount", 0)
    page = cadmin.act("execute", schedule, back=run_path(schedule))
    notice = cadmin.get(page.location).said("notice")
    fired = re.fullmatch(rf"executed {re.escape(schedule)}: run (\S+)", notice)
    assert fired is not None, notice
    state = site.state(schedule)
    assert state["triggerState"] == "Normal" and state["lastRunHandle"] == fired.group(1)
    assert state.get("runCount", 0) == runs + 1
    assert site.state(fired.group(1))["state"] == "New"


def test_a_company_admin_deletes_a_schedule_and_its_page_says_deleted(site: Site) -> None:
    cadmin = site.browser("cadmin")
    doomed = site.submit(who="cadmin", jobName="doomed", execSchedule="0 0 3 1 1 ? 2070")
    cadmin.act("pause", doomed, back="/schedules")  # a paused one: its state stays Paused after
    page = cadmin.act("delete", doomed, back="/schedules")
    assert page.status == 303 and cadmin.get(page.location).said("notice") == f"deleted {doomed}"
    site.caught_up()
    shown = cadmin.get(run_path(doomed))
    assert shown.status == 200 and shown.said("h1") == "doomed Deleted"
    assert "none: deleted" in shown.text and not [a for a in shown.actions() if a[1] == doomed]


def test_a_user_may_not_pause_a_schedule_through_the_form(site: Site, schedule: str) -> None:
    before = site.position()
    user = site.browser("user")
    page = user.press("pause", schedule, back="/schedules")
    assert "pause failed" in user.get(page.location).said("notice")
    assert site.position() == before


# --- job logs: keyset pages --------------------------------------------------------------------------


@pytest.mark.parametrize("query", [{}, {"sortBy": "JobName", "sortDirection": "Ascending"}])
def test_job_log_pages_forward_then_back_give_the_same_rows(site: Site, query: dict[str, str]) -> None:
    admin = site.browser("admin")
    page = admin.get(f"/logs?{urlencode({'company': 'bulk', **query})}")
    assert page.link("prev") is None
    forward = [page.handles("logs")]
    while (following := page.link("next")) is not None:
        page = admin.get(following)
        assert page.status == 200, page.text
        forward.append(page.handles("logs"))
    assert [len(rows) for rows in forward] == [50, 50, BULK_RUNS - 100]
    seen = [handle for rows in forward for handle in rows]
    assert sorted(seen) == sorted(site.bulk)  # every run once
    if query.get("sortBy") == "JobName":
        assert seen == sorted(site.bulk)

    backward = [forward[-1]]
    while (previous := page.link("prev")) is not None:
        page = admin.get(previous)
        backward.append(page.handles("logs"))
    assert backward[::-1] == forward
    assert page.link("next") is not None


# --- filters and bad queries -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, "abc"),
        ({"waiting": "0"}, "ac"),
        ({"state": "Running"}, "ac"),
        ({"state": "New"}, "b"),
        ({"type": "Export"}, "c"),
        ({"server": "srv-a"}, "a"),
        ({"state": "Running", "server": "srv-c"}, "c"),
        ({"server": "nowhere"}, ""),
    ],
)
def test_filters_in_the_query_string_narrow_the_active_rows(
    site: Site, query: dict[str, str], expected: str
) -> None:
    page = site.browser("admin").get(f"/?{urlencode({'company': 'filt', **query})}")
    assert page.status == 200
    assert page.handles("active") == [site.filt[name] for name in expected]


@pytest.mark.parametrize(
    "path",
    [
        "/logs?sortBy=Nope",
        "/logs?sortDirection=Sideways",
        "/logs?outcome=bogus",
        "/?state=Bogus",
        "/?type=Bogus",
        "/logs?startDate=garbage",
        "/logs?endDate=2026-13-45T99:00",
        "/logs?cursor=not-a-cursor!",
        "/?minPosition=-1",
        "/?minPosition=ten",
        "/audit?before=x",
        "/confirm?action=stop",
        "/runs/{bulk}?page=0",
        "/runs/{bulk}?logType=Bogus",
        "/runs/{bulk}?perPage=abc",
    ],
)
def test_a_bad_query_is_a_400_page_not_a_500(site: Site, path: str) -> None:
    page = site.browser("admin").get(path.format(bulk=quote(site.bulk[0], safe="")))
    assert page.status == 400, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.said("h1") == "400" and page.said("error")
    assert "Traceback" not in page.text


def test_an_unknown_page_or_method_is_answered_with_a_page(site: Site) -> None:
    admin = site.browser("admin")
    assert admin.get("/nope").status == 404
    assert admin.get("/runs/nope%7C%7Cnope").status == 404
    assert admin.request("DELETE", "/logs").status == 405
    for path in ("/healthz", "/readyz", "/metrics"):
        answered = admin.request("POST", path)
        assert answered.status == 405 and answered.headers["allow"] == "GET, HEAD", path
    assert (
        admin.post(f"/actions/explode/{quote(site.bulk[0], safe='')}", csrf=admin.get("/").csrf).status == 404
    )


def test_the_dashboards_answers_are_counted_in_the_servers_requests(site: Site) -> None:
    def counts() -> dict[str, float]:
        status, text = site.api("GET", "/metrics")
        assert status == 200
        return {
            line.split('status="')[1][:3]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("jobledger_http_requests_total{")
        }

    admin = site.browser("admin")
    before = counts()
    assert admin.get("/logs").status == 200 and admin.get("/nope").status == 404
    after = counts()
    # (the first /metrics is counted too: it answered before the second was read)
    assert after.get("2xx", 0) - before.get("2xx", 0) == 2
    assert after.get("4xx", 0) - before.get("4xx", 0) == 1


# --- the chain ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["cadmin", "user", "reader"])
def test_only_an_admin_may_verify_the_chain(site: Site, who: str) -> None:
    browser = site.browser(who)
    page = browser.post("/actions/verify/chain", csrf=browser.get("/").csrf, back="/audit")
    assert page.status == 403
    assert browser.get("/audit/verification").status == 403
    assert 'id="verify-form"' not in browser.get("/audit").text


def test_an_admin_verifies_the_chain_and_it_is_intact(site: Site) -> None:
    admin = site.browser("admin")
    assert admin.post("/actions/verify/chain", csrf="0" * 32).status == 403
    events = site.position()
    page = admin.post("/actions/verify/chain", csrf=admin.get("/audit").csrf, back="/audit")
    assert page.status == 303 and page.location == "/audit"
    deadline = time.monotonic() + 20
    while True:
        answer = admin.get("/audit/verification")
        assert answer.status == 200 and answer.headers["content-type"].startswith("application/json")
        record = json.loads(answer.text)
        if not record["running"] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert record["running"] is False and record["intact"] is True, record
    assert record["checked"] == record["total"] == events
    assert f"{events:,} events verified" in admin.get("/audit").text


def test_the_audit_page_lists_the_newest_events_first(site: Site) -> None:
    handle = site.submit(jobName="audited")
    page = site.browser("admin").get(f"/audit?{urlencode({'event': 'Submitted'})}")
    positions = [int(p) for p in re.findall(r'<td class="num">(\d+)</td>', page.text)]
    assert positions == sorted(positions, reverse=True) and positions[0] == site.position()
    assert handle in page.text
    assert not re.search(r"<td>(Started|Completed)</td>", page.text)


def test_a_live_runs_page_shows_how_long_it_has_run_and_its_eta(site: Site) -> None:
    now = datetime.now(UTC)
    handle = site.submit(jobName="with-eta", at=(now - timedelta(seconds=120)).isoformat())
    started = (now - timedelta(seconds=90)).isoformat()
    assert site.api("POST", job_path(handle, "start"), {"serverName": "s1", "at": started})[0] == 200
    for seconds, percent in ((60, 10), (30, 20)):
        at = (now - timedelta(seconds=seconds)).isoformat()
        assert site.api("POST", job_path(handle, "progress"), {"progress": percent, "at": at})[0] == 200
    page = site.browser("admin").get(f"{run_path(handle)}")
    assert "<dt>Running for</dt><dd>1m</dd>" in page.text
    eta = re.search(r'<dt>ETA</dt><dd><time datetime="([^"]+)"', page.text)
    assert eta is not None
    # 10 points in 30 s: the other 80 in about 4 minutes from the last report.
    expected = now - timedelta(seconds=30) + timedelta(seconds=240)
    assert abs((datetime.fromisoformat(eta.group(1)) - expected).total_seconds()) < 30


def test_the_audit_page_pages_back_through_older_events(site: Site) -> None:
    admin = site.browser("admin")
    first = admin.get("/audit")
    newest = [int(p) for p in re.findall(r'<td class="num">(\d+)</td>', first.text)]
    assert len(newest) == 100 and newest[0] == site.position()
    older = re.search(r'rel="next" href="(/audit\?[^"]+)"', first.text)
    assert older is not None
    second = admin.get(older.group(1).replace("&amp;", "&"))
    then = [int(p) for p in re.findall(r'<td class="num">(\d+)</td>', second.text)]
    assert then and then == sorted(then, reverse=True) and then[0] == newest[-1] - 1
    completed = admin.get(f"/audit?{urlencode({'event': 'Completed', 'before': newest[-1]})}")
    assert re.findall(r"<td>(\w+)</td>\s*<td>", completed.text) and not re.search(
        r"<td>(Started|Submitted|ProgressUpdated)</td>", completed.text
    )


def test_no_request_left_a_traceback_on_the_servers_stderr(site: Site) -> None:
    # Last in the module: every bad query, form and redirect above was answered without one.
    assert "Traceback" not in site.stderr(), site.stderr()
    assert "ERROR" not in site.stderr()


def test_the_confirmation_of_an_action_the_role_may_not_take_is_a_403_page(site: Site, schedule: str) -> None:
    bulk = quote(site.submit(jobName="confirm-me"), safe="")
    assert site.browser("reader").get(f"/confirm?action=stop&handle={bulk}").status == 403
    assert site.browser("user").get(f"/confirm?action=pause&handle={quote(schedule, safe='')}").status == 403
    assert site.browser("user").get(f"/confirm?action=stop&handle={bulk}").status == 200
    assert site.browser("admin").get(f"/confirm?action=explode&handle={bulk}").status == 404


def test_a_broken_escape_in_a_pages_path_is_a_400(site: Site) -> None:
    for path in ("/runs/x%ZZ", "/runs/x%C3", "/metrics%ZZ"):
        assert site.browser("admin").get(path).status == 400, path


def test_a_run_whose_handle_holds_a_slash_is_stopped_from_its_confirmation(site: Site) -> None:
    handle = site.submit(jobName="a/b")
    assert "/" in handle
    pressed = site.browser("admin").act("stop", handle)
    assert pressed.status == 303, pressed.text
    assert site.state(handle)["state"] != "New"


def test_without_tokens_the_pages_and_their_forms_answer_only_this_machines_own(tmp_path: Any) -> None:
    # Every caller is an IpsAdmin there: a page on a rebound name must neither read the form
    # token nor press a button with it, and another site's form must not either.
    db = str(tmp_path / "ledger.db")
    with JobLedger(db) as ledger:
        handle = ledger.submit("acme", "n", OptimizeImagesJob(emailSetting="All"))
    with serving(db) as server:
        browser = Browser(server)
        home = browser.get("/")
        assert home.status == 200 and home.csrf
        rebound = browser.request("GET", "/", headers={"Host": "evil.example"})
        assert rebound.status == 403 and rebound.csrf == "" and home.csrf not in rebound.text
        form = {"csrf": home.csrf, "back": "/"}
        for foreign in ({"Host": "evil.example"}, {"Origin": "http://evil.example"}):
            pressed = browser.request("POST", f"/actions/stop/{quote(handle, safe='')}", form, foreign)
            assert pressed.status == 403, pressed.text
            assert browser.request("POST", "/logout", form, foreign).status == 403
        assert server.call("GET", job_path(handle))[1]["job"]["state"] == "New"
        assert browser.press("stop", handle).status == 303  # this machine's own page still may
        assert server.call("GET", job_path(handle))[1]["job"]["state"] != "New"
