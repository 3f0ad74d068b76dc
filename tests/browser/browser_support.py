"""What the browser tests share: the served site with a token per role, and the pictures they keep.

Imported as `browser_support` (this folder is on sys.path when its tests run): a name of its own,
as `conftest` is taken by every folder's fixtures.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))

from server_support import Served

CHROMIUM = os.environ.get("JOBLEDGER_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
ROLES = {
    "admin": ("acme", "IpsAdmin"),
    "cadmin": ("acme", "IpsCompanyAdmin"),
    "user": ("acme", "IpsUser"),
    "reader": ("acme", "ReadOnly"),
    "globex-user": ("globex", "IpsUser"),
}


class Site:
    """The served ledger, a token per role, and calls to its API."""

    def __init__(self, server: Served, tokens: dict[str, str]) -> None:
        self.server = server
        self.tokens = tokens
        self.url = f"http://127.0.0.1:{server.port}"

    def call(self, who: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return self.server.call(method, path, body, headers={"authorization": f"Bearer {self.tokens[who]}"})


def shoot(page: Any, name: str) -> None:
    """Keep the page's picture for the README (docs/screenshots/NAME.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
