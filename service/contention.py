"""Deciding again after a lost race: how long to keep trying, and the pauses between tries.

Writers that keep meeting on the same runs (several workers of one job reporting files) take
turns: a writer that lost holds the store's turn (EventWriter.serialized) while it decides again,
and for a moment after a lost race a ledger's first tries take a turn at once. Where the store has
no turns to give (SQLite) or a writer still loses, its retries are spread out: the first is at
once, later ones wait a random time up to a cap that doubles (full jitter), until a generous
deadline.
"""

from __future__ import annotations

import random
import time

from jobledger.domain.errors import ConcurrencyError

CONTENTION_DEADLINE_S = 30.0
FIRST_BACKOFF_S = 0.001
MAX_BACKOFF_S = 0.05
# How long after a lost race a ledger's first tries queue behind the writers taking turns.
CONTENDED_S = 1.0


class Contention:
    """Races lost by one command or batch, and the pause before deciding again."""

    def __init__(self) -> None:
        self.lost = 0
        self._deadline = 0.0

    def lose(self, *, holding_turn: bool, cause: BaseException) -> None:
        """Count a lost race; pause before the next try (unless this writer holds the turn, which
        others wait for), or give up after CONTENTION_DEADLINE_S."""
        self.lost += 1
        if self.lost == 1:
            self._deadline = time.monotonic() + CONTENTION_DEADLINE_S
            return
        if time.monotonic() > self._deadline:
            raise ConcurrencyError(
                f"other writers kept changing these jobs for {CONTENTION_DEADLINE_S:.0f} s"
                f" ({self.lost} tries); try the command again"
            ) from cause
        if not holding_turn:
            time.sleep(random.uniform(0, min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** (self.lost - 2))))
