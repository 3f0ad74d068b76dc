"""A served demo ledger with tokens, and headless Chromium driven by Playwright.

The browser is Debian's Chromium (`apt-get install -y chromium`, as .ci/run does), launched by
Playwright without a browser download. Without either, these tests skip and say why.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import CHROMIUM, ROLES, Site
from server_support import serving

from jobledger.service.ledger import JobLedger


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("dashboard")
    db = str(folder / "ledger.db")
    demo = subprocess.run(
        [sys.executable, "-m", "jobledger.cli", "--db", db, "demo", "--jobs", "150", "--companies", "3"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert demo.returncode == 0, demo.stderr
    with JobLedger(db) as ledger:
        tokens = {
            who: ledger.create_token(company, role, name=who).secret for who, (company, role) in ROLES.items()
        }
    with serving(db, None, auth=True) as server:
        yield Site(server, tokens)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed (pip install playwright)"
    )
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()
