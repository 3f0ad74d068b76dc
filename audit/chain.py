"""Audit of the hash chain: the head digest, and a full recomputation that locates tampering.

The ledger's recorder links every appended event into the chain in the same transaction (see
store/sqlite_recorder.py), so verification can tell an altered, removed or reordered event (its
recomputed link differs) from one appended behind the ledger's back (it has no link at all).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from jobledger.domain.errors import UndecodableEventError
from jobledger.store.chain import GENESIS, link
from jobledger.store.reader import EventStore, Undecodable

PROGRESS_EVERY = 10_000
_DIGEST = re.compile(r"(\d+):([0-9a-fA-F]{64})")


@dataclass(frozen=True)
class Digest:
    """The chain after `ordinal` events (POSITION:HEX)."""

    ordinal: int
    link: bytes

    def __str__(self) -> str:
        return f"{self.ordinal}:{self.link.hex()}"

    @classmethod
    def parse(cls, text: str) -> Digest:
        """A digest from POSITION:HEX; ValueError if malformed."""
        match = _DIGEST.fullmatch(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not a digest of the form POSITION:HEX (64 hex digits)")
        return cls(int(match.group(1)), bytes.fromhex(match.group(2)))


@dataclass(frozen=True)
class Finding:
    """Where the stored events and the chain first disagree."""

    position: int
    problem: str

    def __str__(self) -> str:
        return f"position {self.position}: {self.problem}"


def digest(store: EventStore) -> Digest:
    """The head of the chain as stored."""
    last = store.chain_head()
    if last is None:
        return Digest(0, GENESIS)
    return Digest(last[1], last[2])


def verify(
    store: EventStore,
    expected: Digest | None = None,
    *,
    undecodable: list[Undecodable] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Finding | None:
    """Recompute the chain from the stored events; the first disagreement, or None if intact.

    The chain is over the stored bytes, so it can hold an event that does not decode (written by
    a newer jobledger, or a bug); with `undecodable`, each stored event is also decoded and those
    that fail are added to it (up to where the chain check stopped). `progress` is told how
    many events were checked, every PROGRESS_EVERY events and at the end.
    """
    previous = GENESIS
    ordinal = 0
    at_expected: bytes | None = GENESIS if expected and expected.ordinal == 0 else None
    chain = store.chain_rows()
    row = next(chain, None)
    for note in store.stored():
        if row is not None and row[0] < note.position:
            return Finding(row[0], "the chain links an event that is missing from the store (deleted)")
        if undecodable is not None:
            try:
                store.decode(note)
            except UndecodableEventError as err:
                undecodable.append(note.undecodable(err.reason))
        ordinal += 1
        if progress is not None and ordinal % PROGRESS_EVERY == 0:
            progress(ordinal)
        previous = link(previous, note.originator_id, note.originator_version, note.topic, note.state)
        if row is None or row[0] != note.position:
            return Finding(
                note.position, "this event is not linked into the chain (appended outside the ledger)"
            )
        if row[2] != previous or row[1] != ordinal:
            return Finding(
                note.position,
                "this event does not match the chain (altered, or an event before it removed or reordered)",
            )
        if expected is not None and ordinal == expected.ordinal:
            at_expected = previous
        row = next(chain, None)
    if progress is not None:
        progress(ordinal)
    if row is not None:
        return Finding(row[0], "the chain links an event that is missing from the store (deleted)")
    if expected is not None:
        if expected.ordinal > ordinal:
            return Finding(
                ordinal, f"the digest names position {expected.ordinal} but the ledger has {ordinal} events"
            )
        if at_expected != expected.link:
            return Finding(expected.ordinal, "the chain differs from the digest given: history was rewritten")
    return None
