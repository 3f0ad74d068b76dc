"""Verifying the chain from the dashboard: one run at a time, in a thread of its own, with progress.

On a large ledger a verify reads every stored event, which takes a while; the page shows how far
it is (polled by app.js, or on reload without JavaScript) while reads and commands go on.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from jobledger.server.app import LedgerApp


@dataclass
class Verification:
    """The last (or current) verification of the chain."""

    total: int
    checked: int = 0
    running: bool = True
    problem: str | None = None
    failed: str | None = None  # the store could not be read
    started: float = 0.0
    seconds: float = 0.0

    @property
    def text(self) -> str:
        """One line: how far it is, or what it found."""
        if self.running:
            return f"verifying: {self.checked:,} of {self.total:,} events"
        if self.failed is not None:
            return f"could not verify: {self.failed}"
        if self.problem is not None:
            return f"the chain does not verify at {self.problem}"
        return f"the chain is intact: {self.checked:,} events verified in {self.seconds:.1f} s"

    def record(self) -> dict[str, object]:
        """As app.js reads it."""
        return {
            "running": self.running,
            "checked": self.checked,
            "total": self.total,
            "intact": not self.running and self.problem is None and self.failed is None,
            "text": self.text,
        }


class Verifier:
    """Starts verifications, at most one at a time, and keeps the last one's outcome."""

    def __init__(self, api: LedgerApp) -> None:
        self._api = api
        self._lock = threading.Lock()
        self.last: Verification | None = None

    def start(self, total: int) -> Verification:
        """Start verifying (or return the verification already running)."""
        with self._lock:
            if self.last is not None and self.last.running:
                return self.last
            current = Verification(total=total, started=time.monotonic())
            self.last = current
        threading.Thread(target=self._run, args=(current,), name="jobledger-verify", daemon=True).start()
        return current

    def _run(self, current: Verification) -> None:
        def advance(checked: int) -> None:
            current.checked = checked

        try:
            current.problem = self._api.verify(advance)
        except Exception as err:  # a store that cannot be read: said on the page, the server goes on
            current.failed = str(err) or type(err).__name__
        current.seconds = time.monotonic() - current.started
        current.running = False
