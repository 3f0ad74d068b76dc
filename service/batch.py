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
from jobledger.domain.errors import LedgerError, NotRecordedError, RuleError, UnknownHandleError
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
        self,
        commands: Sequence[Command],
        validated: bool,
        append: Append,
        together: Sequence[range] = (),
    ) -> list[Aggregate | LedgerError]:
        """Each command's state, or (with `each`) the error of one that broke a rule.

        A broken rule found on a cached state is raised even with `each`: the state may be behind
        the store, and the caller decides the batch again on fresh states. `together` (with
        `each`): ranges of commands, in order, recorded all or none (one request's): when one
        fails, the others of its range are NotRecordedError and none of their events stay.
        """
        results: list[Aggregate | LedgerError] = []
        if not self.each:
            for index, command in enumerate(commands):
                results.append(self.decide(index, command, validated=validated))
                append.feed(self.events)
            return results
        spans = iter(together)
        span = next(spans, None)
        mark: _Mark | None = None
        failed_at = -1  # the failed command of the current range, if one failed
        for index, command in enumerate(commands):
            if span is not None and index == span.start:
                mark, failed_at = _Mark(self), -1
            if failed_at >= 0 and span is not None:  # (failed_at is of this range)
                results.append(NotRecordedError(failed_at - span.start))
            else:
                try:
                    results.append(self.decide(index, command, validated=True))
                except (RuleError, UnknownHandleError) as err:
                    if getattr(command, "handle", None) in self.used_cache:
                        raise RuleError(str(err)) from err
                    results.append(err)
                    if mark is not None and span is not None:
                        failed_at = index
                        mark.restore(self)
                        for earlier in range(span.start, index):
                            results[earlier] = NotRecordedError(index - span.start)
                            self.ends[earlier] = len(self.events)
            self.ends.append(len(self.events))
            if span is not None and index == span.stop - 1:
                mark, span, failed_at = None, next(spans, None), -1
        return results

    def end_positions(self) -> list[int]:
        """Per decided command (with `each`), the position of its last event, 0 if it made none."""
        positions: list[int] = []
        before = 0
        for end in self.ends:
            positions.append(self.positions[end - 1] if end > before else 0)
            before = end
        return positions


def all_or_none(checked: list[Command | LedgerError], together: Sequence[range]) -> list[range]:
    """Ranges of commands recorded all or none, among the valid ones: a range with an invalid
    command is not recorded at all (its other commands become NotRecordedError, in `checked`),
    and the others are returned as ranges of the valid commands' list."""
    kept: list[range] = []
    for span in together:
        invalid = next((i for i in span if isinstance(checked[i], LedgerError)), None)
        if invalid is not None:
            for i in span:
                if i != invalid:
                    checked[i] = NotRecordedError(invalid - span.start)
    valid_before = [0]
    for given in checked:
        valid_before.append(valid_before[-1] + (not isinstance(given, LedgerError)))
    for span in together:
        start, stop = valid_before[span.start], valid_before[span.stop]
        if stop - start == len(span) and len(span) > 1:
            kept.append(range(start, stop))
    return kept


class _Mark:
    """What a batch's decisions were before a range of commands recorded all or none."""

    def __init__(self, batch: Batch) -> None:
        self.events = len(batch.events)
        self.states = dict(batch.states)
        self.claims = dict(batch.claims)
        self.replays = set(batch.replays)
        self.created_runs = len(batch.created_runs)
        self.latest = batch.latest

    def restore(self, batch: Batch) -> None:
        """Forget every decision made since the mark."""
        del batch.events[self.events :]
        batch.states = self.states
        batch.claims = self.claims
        batch.replays = self.replays
        del batch.created_runs[self.created_runs :]
        batch.latest = self.latest
