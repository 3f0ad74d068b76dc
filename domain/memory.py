"""MemoryState: the in-memory StateSource for tests, simulations and benchmarks.

It holds the state of every run and schedule as a dict by handle, folded from the events
committed to it, and the idempotency claims by (company, key); no store, no I/O. A commit checks
what the store's uniqueness of (aggregate id, version) checks: each aggregate's events continue
its versions without a gap, and a new handle is not taken.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from .aggregates import Aggregate, evolve
from .errors import ConcurrencyError
from .events import DomainEvent, IdempotencyKeyClaimed, Submitted
from .schedule_events import Scheduled


class MemoryState:
    """A StateSource over dicts: `commit` the events a Decider made, and it decides on them next."""

    def __init__(self, events: Iterable[DomainEvent] = ()) -> None:
        self.states: dict[str, Aggregate] = {}
        self.claims: dict[tuple[str, str], IdempotencyKeyClaimed] = {}
        # What `cached` returns: fill it to decide on a remembered (maybe stale) state.
        self.cache: dict[str, Aggregate] = {}
        self._handles: dict[UUID, str] = {}
        self.commit(events)

    def commit(self, events: Iterable[DomainEvent]) -> None:
        """Fold the events into the states, all of them or, on a version conflict, none."""
        states: dict[str, Aggregate] = {}
        handles: dict[UUID, str] = {}
        claims: dict[tuple[str, str], IdempotencyKeyClaimed] = {}
        for event in events:
            if isinstance(event, IdempotencyKeyClaimed):
                key = (event.companyHandle, event.key)
                if key in self.claims or key in claims:
                    raise ConcurrencyError(f"idempotency key {event.key!r} of {event.companyHandle} is taken")
                claims[key] = event
                continue
            if isinstance(event, Submitted | Scheduled):
                handles[event.originator_id] = event.jobHandle
            handle = handles.get(event.originator_id) or self._handles.get(event.originator_id)
            if handle is None:
                raise ConcurrencyError(f"event {type(event).__name__} of an unknown aggregate")
            state = states[handle] if handle in states else self.states.get(handle)
            version = state.version if state is not None else 0
            if event.originator_version != version + 1:
                raise ConcurrencyError(
                    f"{type(event).__name__} of {handle} has version {event.originator_version},"
                    f" expected {version + 1}"
                )
            folded = evolve(event, state)
            assert folded is not None
            states[handle] = folded
        self.states.update(states)
        self._handles.update(handles)
        self.claims.update(claims)

    # --- StateSource -----------------------------------------------------------------------

    def cached(self, handle: str) -> Aggregate | None:
        return self.cache.get(handle)

    def load(self, handle: str) -> Aggregate | None:
        return self.states.get(handle)

    def exists(self, handle: str) -> bool:
        return handle in self.states

    def claim(self, company: str, key: str) -> IdempotencyKeyClaimed | None:
        return self.claims.get((company, key))
