"""One attempt at recording a batch: the decisions, fed to the append as they are made.

`record()` is all or nothing: the first broken rule refuses the batch. `record_each()` (group
commit: commands of many callers appended in one transaction) decides each command on its own:
one that breaks a rule fails alone, and the others are appended.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from jobledger.domain.aggregates import Aggregate
from jobledger.domain.commands import Command
from jobledger.domain.decider import Decider, StateSource
from jobledger.domain.errors import LedgerError, RuleError, UnknownHandleError
from jobledger.store.writer import Append


class Outcomes(NamedTuple):
    """What `record_each` returns, one entry per command in the order given."""

    outcomes: list[Aggregate | LedgerError]  # the state after the command, or why it failed
    positions: list[int]  # the position of the command's last event (0: it appended none)
    replayed: list[bool]  # a submit that replayed an earlier one with its idempotency key


class Batch(Decider):
    """The decisions of one attempt; `each`: every command stands alone (record_each)."""

    def __init__(
        self,
        source: StateSource,
        *,
        max_skew: timedelta | None,
        latest: datetime | None,
        each: bool = False,
    ) -> None:
        super().__init__(source, max_skew=max_skew, latest=latest, name_place=not each)
        self.each = each
        self.ends: list[int] = []  # per decided command: how many of the batch's events it ends at
        self.positions: list[int] = []  # of the batch's events, once appended

    def decide_all(
        self, commands: Sequence[Command], validated: bool, append: Append
    ) -> list[Aggregate | LedgerError]:
        """Each command's state, or (with `each`) the error of one that broke a rule.

        A broken rule found on a cached state is raised even with `each`: the state may be behind
        the store, and the caller decides the batch again on fresh states.
        """
        results: list[Aggregate | LedgerError] = []
        if not self.each:
            for index, command in enumerate(commands):
                results.append(self.decide(index, command, validated=validated))
                append.feed(self.events)
            return results
        for index, command in enumerate(commands):
            try:
                results.append(self.decide(index, command, validated=True))
            except (RuleError, UnknownHandleError) as err:
                if getattr(command, "handle", None) in self.used_cache:
                    raise RuleError(str(err)) from err
                results.append(err)
            self.ends.append(len(self.events))
        return results

    def end_positions(self) -> list[int]:
        """Per decided command (with `each`), the position of its last event, 0 if it made none."""
        positions: list[int] = []
        before = 0
        for end in self.ends:
            positions.append(self.positions[end - 1] if end > before else 0)
            before = end
        return positions
