"""The dashboard in a real browser (headless Chromium), as an operator uses it.

Each test logs in with a token of one role and works through pages and buttons; runs and
progress come from the API meanwhile, as runners would send them. The pictures of each page
are kept in docs/screenshots/ for the README.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from browser_support import Site, shoot

PAYLOAD = {"optimizeImagesJob": {"emailSetting": "All"}}
LIVE_S = 5_000  # ms: how long a test waits for a live change (the target is 1 s; bench/dashboard.py times it)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def log_in(page: Any, site: Site, who: str, then: str = "/") -> None:
    page.goto(f"{site.url}{then}")
    assert "/login" in page.url  # no session yet: the login page, which comes back here after
    page.fill("#token", site.tokens[who])
    page.click("form.login button[type=submit]")
    page.wait_for_url(re.compile(re.escape(then) + "$"))


def submit(site: Site, who: str, company: str = "acme", name: str = "browser-run", **extra: Any) -> str:
    status, body = site.call(
        who, "POST", "/v1/jobs", {"companyHandle": company, "jobName": name, **PAYLOAD, **extra}
    )
    assert status == 201, body
    return str(body["jobHandle"])


def act(site: Site, who: str, handle: str, action: str, body: Any = None) -> Any:
    status, answer = site.call(who, "POST", f"/v1/jobs/{quote(handle, safe='')}/{action}", body or {})
    assert status == 200, answer
    return answer


def row(page: Any, handle: str) -> Any:
    return page.locator(f'tr[data-handle="{handle}"]')


def test_a_wrong_token_is_refused_and_the_right_one_logs_in(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/logs")
    shoot(page, "login")
    page.fill("#token", "jlt_nope_nope")
    page.click("form.login button[type=submit]")
    assert page.locator("[role=alert]").inner_text() == "that token is not valid"
    page.fill("#token", site.tokens["admin"])
    page.click("form.login button[type=submit]")
    page.wait_for_url(re.compile(r"/logs$"))
    cookie = next(c for c in page.context.cookies() if c["name"] == "jobledger_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.click("header form button")  # log out
    page.wait_for_url(re.compile(r"/login$"))
    page.goto(f"{site.url}/")
    assert "/login" in page.url


def test_every_page_renders_for_an_admin(page: Any, site: Site) -> None:
    log_in(page, site, "admin")
    assert page.locator("h1").inner_text() == "Active jobs"
    assert page.locator("#active tbody tr[data-handle]").count() > 0
    assert page.locator("#active progress").count() > 0
    shoot(page, "active")
    for path, heading, picture in [
        ("/logs", "Job logs", "logs"),
        ("/schedules", "Schedules", "schedules"),
        ("/activity", "Activity, the last 24 hours", "activity"),
        ("/audit", "Audit", "audit"),
    ]:
        page.goto(f"{site.url}{path}")
        assert page.locator("h1").inner_text() == heading
        shoot(page, picture)
    assert page.locator("svg.chart").count() == 0  # (the audit page has none)
    page.goto(f"{site.url}/activity")
    assert page.locator("svg.chart rect").count() > 0
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{site.url}/")
    assert page.locator("#active").is_visible()
    shoot(page, "active-phone")


def test_a_run_appears_moves_and_is_stopped_live(page: Any, site: Site) -> None:
    log_in(page, site, "user")
    assert page.locator("#live").inner_text() in ("live", "")
    page.wait_for_selector("#live.on")
    handle = submit(site, "user", name="live-run")
    started = time.monotonic()
    row(page, handle).wait_for(timeout=LIVE_S)
    appeared = time.monotonic() - started
    act(site, "user", handle, "start", {"serverName": "ips-browser", "totalSize": 10})
    state = f"document.querySelector('tr[data-handle=\"{handle}\"] [data-field=state]')?.textContent.trim()"
    page.wait_for_function(f"{state} === 'Running'", timeout=LIVE_S)
    for percent in (10, 40, 70):
        act(site, "user", handle, "progress", {"progress": percent, "progressMessage": f"at {percent}"})
        page.wait_for_function(
            f"document.querySelector('tr[data-handle=\"{handle}\"] progress')?.value === {percent}",
            timeout=LIVE_S,
        )
        assert row(page, handle).locator("[data-field=progressMessage]").inner_text() == f"at {percent}"
    shoot(page, "active-live")
    page.once("dialog", lambda dialog: dialog.accept())
    row(page, handle).locator("a[data-action=stop]").click()
    page.wait_for_url(re.compile(r"notice="))
    assert "Stopping" in page.locator(".notice").inner_text()
    assert row(page, handle).locator("[data-field=state]").inner_text() == "Stopping"
    act(site, "user", handle, "complete", {"message": "stopped by an operator"})
    row(page, handle).wait_for(state="detached", timeout=LIVE_S)
    assert appeared < LIVE_S / 1000


def links(page: Any) -> list[str]:
    """The runs' links of a job-logs page (names repeat across companies; handles do not)."""
    return [str(link.get_attribute("href")) for link in page.locator("#logs tbody th a").all()]


def test_job_logs_page_forwards_and_back(page: Any, site: Site) -> None:
    log_in(page, site, "admin", "/logs")
    first = links(page)
    assert len(first) == 50
    page.click("nav.pager >> nth=0 >> a[rel=next]")
    page.wait_for_url(re.compile(r"cursor="))
    second = links(page)
    assert second and not set(second) & set(first)
    page.click("nav.pager >> nth=0 >> a[rel=prev]")
    page.wait_for_url(re.compile(r"before=1"))
    assert links(page) == first
    page.select_option("select[name=sortBy]", "JobName")
    page.select_option("select[name=sortDirection]", "Ascending")
    page.click("form.filters button[type=submit]")
    names = page.locator("#logs tbody th a").all_inner_texts()
    assert names == sorted(names)


def test_a_runs_page_shows_its_fields_tasks_details_and_timeline(page: Any, site: Site) -> None:
    handle = submit(site, "user", name="detailed-run")
    act(site, "user", handle, "start", {"serverName": "ips-9", "totalSize": 3})
    act(
        site,
        "user",
        handle,
        "progress",
        {"progress": 50, "taskProgressArray": [{"taskType": "Optimize", "progress": 0.5, "numProcessed": 1}]},
    )
    rows = [
        {"logType": kind, "logMessage": f"file {n} {kind}", "assetName": f"a{n}.tif"}
        for n, kind in enumerate(["UploadSuccess", "UploadWarning", "UploadError"])
    ]
    status, body = site.call("user", "POST", f"/v1/jobs/{quote(handle, safe='')}/log", rows)
    assert status == 200, body
    log_in(page, site, "admin", "/logs")
    page.goto(f"{site.url}/runs/{quote(handle, safe='')}")
    assert page.locator("h1").inner_text().startswith("detailed-run")
    assert page.locator("#tasks ~ div progress").count() == 1
    assert page.locator("#details-table tbody tr").count() == 3
    events = page.locator("ol.timeline li strong").all_inner_texts()
    assert events[:2] == ["Submitted", "Started"] and events.count("DetailLogged") == 3
    shoot(page, "run")
    page.check("input[name=logType][value=UploadError]")
    page.click("form[aria-label='Detail filters'] button")
    assert page.locator("#details-table tbody tr").all_inner_texts()[0].endswith("file 2 UploadError")


def test_a_company_admin_pauses_and_resumes_a_schedule(page: Any, site: Site) -> None:
    handle = submit(
        site, "cadmin", name="browser-schedule", execSchedule="0 0 4 * * ?", timeZone="Europe/Berlin"
    )
    log_in(page, site, "cadmin", "/schedules")
    line = row(page, handle)
    assert "CET" in line.inner_text() or "CEST" in line.inner_text()
    for action, state in (("pause", "Paused"), ("resume", "Normal")):
        page.once("dialog", lambda dialog: dialog.accept())
        row(page, handle).locator(f"a[data-action={action}]").click()
        page.wait_for_url(re.compile(r"notice="))
        assert state in page.locator(".notice").inner_text()
        assert row(page, handle).locator(".trigger").inner_text() == state
        status, body = site.call("cadmin", "GET", f"/v1/jobs/{quote(handle, safe='')}")
        assert status == 200 and body["job"]["triggerState"] == state
    shoot(page, "schedules-company-admin")


def test_a_read_only_token_sees_no_buttons_and_not_another_company(page: Any, site: Site) -> None:
    own = submit(site, "user", name="read-only-view")
    other = submit(site, "globex-user", company="globex", name="not-yours")
    log_in(page, site, "reader")
    assert page.locator("a[data-action]").count() == 0
    assert set(page.locator("#active tbody td.wide").all_inner_texts()) & {"globex"} == set()
    page.goto(f"{site.url}/runs/{quote(own, safe='')}")
    assert page.locator("h1").inner_text().startswith("read-only-view")
    assert page.locator("a[data-action]").count() == 0
    page.goto(f"{site.url}/schedules")
    assert page.locator("a[data-action]").count() == 0
    answer = page.goto(f"{site.url}/runs/{quote(other, safe='')}")
    assert answer is not None and answer.status == 404
    assert "no job with handle" in page.locator("[role=alert]").inner_text()


def test_without_javascript_an_action_is_confirmed_on_a_page_of_its_own(browser: Any, site: Site) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        handle = submit(site, "user", name="no-script-run")
        log_in(page, site, "user")
        row(page, handle).locator("a[data-action=stop]").click()
        assert page.locator("h1").inner_text() == f"Stop {handle}?"
        page.click("main form button[type=submit]")
        page.wait_for_url(re.compile(r"notice="))
        assert (
            "Stopping" in page.locator(".notice").inner_text()
            or "Done" in page.locator(".notice").inner_text()
        )
    finally:
        context.close()


def test_an_admin_verifies_the_chain_and_sees_the_event_log_live(page: Any, site: Site) -> None:
    log_in(page, site, "admin", "/audit")
    page.click("#verify-form button")
    page.wait_for_function(
        "document.getElementById('verify-text')?.textContent.startsWith('the chain is intact')",
        timeout=30_000,
    )
    assert page.locator("#verify-progress").get_attribute("value") is not None
    page.wait_for_selector("#live.on")
    handle = submit(site, "admin", name="audited-run")
    page.wait_for_function(
        f"[...document.querySelectorAll('#events tbody tr')].some(r => r.textContent.includes({handle!r}))",
        timeout=LIVE_S,
    )
    shoot(page, "audit-verified")
