"""The dashboard on a large ledger: page times, and how soon live progress reaches the screen.

Run by hand on a demo ledger, for example:

    jobledger --db /tmp/big/big.db --views /tmp/big/big.views.db demo --jobs 100000
    python bench/dashboard.py --db /tmp/big/big.db --views /tmp/big/big.views.db

1. Pages: a `jobledger serve --no-auth` on the ledger; each page's HTML is fetched --repeats
   times on one keep-alive connection (the server's time, as a browser on the same network sees
   it): the active jobs, job logs (first page, and a page --deep pages in, reached by its keyset
   cursor), the run with the most files, a schedule, the schedules, the activity charts and the
   audit log. p50/p95 against the target (150 ms), and against the JSON API answering the same
   question in the same run (/v1/active-jobs, /v1/job-logs, ...).
2. Live: --runs runs of a company of their own are started; headless Chromium (Playwright, Debian's
   /usr/bin/chromium) shows the active page filtered to that company while a writer posts --rate
   progress updates a second for --live-seconds, each a new percentage of one run. The page
   records when each value first shows in its row (polled every animation frame); the latency is
   from the API's answer (the commit) to the screen. Target: p99 within 1 s, nothing missed.

A ledger given with --db is read, and written only by part 2 (its runs go to company `benchco`).
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from serve import percentile, serving, verdict

PAGE_TARGET_MS = 150.0
LIVE_TARGET_MS = 1000.0
COMPANY = "benchco"
PAYLOAD = {"optimizeImagesJob": {"emailSetting": "All"}}


class Client:
    """One keep-alive connection to the server."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=data, headers={"content-type": "application/json"})
        response = self.conn.getresponse()
        return response.status, response.read()

    def json(self, method: str, path: str, body: Any = None) -> Any:
        status, text = self.request(method, path, body)
        if status >= 300:
            raise SystemExit(f"{method} {path} answered {status}: {text[:300]!r}")
        return json.loads(text)

    def timed(self, path: str, repeats: int) -> list[float]:
        """Milliseconds for each of `repeats` GETs of `path` (after one to warm up)."""
        status, body = self.request("GET", path)
        if status != 200:
            raise SystemExit(f"GET {path} answered {status}: {body[:300]!r}")
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            self.request("GET", path)
            times.append((time.perf_counter() - started) * 1000)
        return sorted(times)


def pages_to_time(client: Client, deep: int) -> list[tuple[str, str, str]]:
    """(what, page path, the API path answering the same question)."""
    top = client.json("GET", "/v1/job-logs?sortBy=FileSuccessCount&numRows=1")["jobLogArray"][0]["jobHandle"]
    schedules = client.json("GET", "/v1/scheduled-jobs?numRows=1")["scheduledJobArray"]
    cursor = ""
    for _ in range(deep):
        answer = client.json(
            "GET", "/v1/job-logs?" + urlencode({"numRows": 50, **({"cursor": cursor} if cursor else {})})
        )
        cursor = answer.get("nextCursor") or cursor
    run = quote(top, safe="")
    found = [
        ("active jobs", "/", "/v1/active-jobs?includeWaitingJobs=true"),
        ("job logs", "/logs", "/v1/job-logs?numRows=50"),
        (
            f"job logs, page {deep + 1}",
            f"/logs?cursor={quote(cursor)}",
            f"/v1/job-logs?numRows=50&cursor={quote(cursor)}",
        ),
        ("a run (the most files)", f"/runs/{run}", f"/v1/jobs/{run}/log-details?recordsPerPage=100"),
        ("schedules", "/schedules", "/v1/scheduled-jobs"),
        ("activity", "/activity", "/v1/position"),
        ("audit", "/audit", "/v1/events?limit=100"),
        ("audit, Deleted events", "/audit?event=Deleted", "/v1/events?name=Deleted&limit=100"),
    ]
    if schedules:
        handle = quote(schedules[0]["jobHandle"], safe="")
        found.insert(4, ("a schedule", f"/runs/{handle}", f"/v1/jobs/{handle}"))
    return found


def part_pages(client: Client, repeats: int, deep: int) -> bool:
    print(f"\n1. Pages: {repeats} GETs each on one keep-alive connection (ms)")
    print(f"   {'page':<26} {'p50':>7} {'p95':>7}   {'API p95':>7}  {'page/API':>8}")
    ok = True
    for what, page, api in pages_to_time(client, deep):
        times = client.timed(page, repeats)
        base = client.timed(api, repeats)
        p95, base95 = percentile(times, 0.95), percentile(base, 0.95)
        ok &= p95 < PAGE_TARGET_MS
        print(
            f"   {what:<26} {percentile(times, 0.5):7.1f} {p95:7.1f}   {base95:7.1f}  {p95 / base95:8.2f}x"
            f"  {verdict(p95 < PAGE_TARGET_MS)}"
        )
    print(f"   target: every page p95 < {PAGE_TARGET_MS:.0f} ms")
    return ok


WATCH = """
() => {
  window.__seen = {};
  const look = () => {
    for (const row of document.querySelectorAll('#active tr[data-handle]')) {
      const bar = row.querySelector('progress');
      const key = row.dataset.handle + ':' + (bar ? bar.value : '');
      if (!(key in window.__seen)) window.__seen[key] = Date.now();
    }
    requestAnimationFrame(look);
  };
  look();
}
"""


def part_live(port: int, runs: int, rate: float, seconds: float) -> bool:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("\n2. Live: skipped (pip install playwright)")
        return True
    if not Path("/usr/bin/chromium").exists():
        print("\n2. Live: skipped (no /usr/bin/chromium: apt-get install -y chromium)")
        return True
    client = Client(port)
    handles = []
    for n in range(runs):
        handle = client.json(
            "POST", "/v1/jobs", {"companyHandle": COMPANY, "jobName": f"live-{n}", **PAYLOAD}
        )["jobHandle"]
        client.json("POST", f"/v1/jobs/{quote(handle, safe='')}/start", {"serverName": "bench"})
        handles.append(handle)
    sent: dict[str, float] = {}  # "handle:value" -> epoch ms of the API's answer
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/?company={COMPANY}")
        page.wait_for_selector("#live.on")
        page.evaluate(WATCH)
        stop = threading.Event()

        def write() -> None:
            writer = Client(port)
            step, count, started = 1 / rate, 0, time.monotonic()
            while not stop.is_set():
                handle = handles[count % runs]
                value = 1 + (count // runs) % 99
                path = f"/v1/jobs/{quote(handle, safe='')}/progress"
                writer.json("POST", path, {"progress": value, "progressMessage": f"update {count}"})
                sent[f"{handle}:{value}"] = time.time() * 1000
                count += 1
                pause = started + count * step - time.monotonic()
                if pause > 0:
                    time.sleep(pause)

        thread = threading.Thread(target=write)
        thread.start()
        time.sleep(seconds)
        stop.set()
        thread.join()
        time.sleep(2)  # the last updates reach the screen
        seen: dict[str, float] = page.evaluate("window.__seen")
        browser.close()
    latencies = sorted(max(0.0, seen[key] - at) for key, at in sent.items() if key in seen)
    missed = sum(key not in seen for key in sent)
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    worst = latencies[-1] if latencies else float("nan")
    ok = missed == 0 and p99 <= LIVE_TARGET_MS
    print(f"\n2. Live: {runs} runs on one page, {len(sent)} progress updates at {len(sent) / seconds:.0f}/s")
    print(
        f"   commit -> screen: p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {worst:.0f} ms;"
        f" missed {missed}  {verdict(ok)}"
    )
    print(f"   target: p99 within {LIVE_TARGET_MS:.0f} ms, none missed")
    return ok


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", required=True, help="the ledger (a demo ledger, e.g. of --jobs 100000)")
    parser.add_argument("--views", help="its views file")
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--deep", type=int, default=200, help="how many job-log pages in the deep page is")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--live-seconds", type=float, default=10.0)
    parser.add_argument("--parts", default="pages,live")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    parts = set(args.parts.split(","))
    with tempfile.TemporaryDirectory() as folder, serving(args.db, args.views, Path(folder)) as server:
        client = Client(server.port)
        head = client.json("GET", "/v1/position")["position"]
        print(f"ledger {args.db}: {head:,} events")
        ok = True
        if "pages" in parts:
            ok &= part_pages(client, args.repeats, args.deep)
        if "live" in parts:
            ok &= part_live(server.port, args.runs, args.rate, args.live_seconds)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
