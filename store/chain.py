"""The hash chain over the global event order: each link hashes the previous link and one
stored event's identity (aggregate id and version), topic and stored bytes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from hashlib import sha256
from typing import Any
from uuid import UUID

GENESIS = bytes(32)
ChainRow = tuple[int, int, bytes]  # (position, ordinal, link)

# SQLite keeps each link in its event's row (store/sqlite_chain.py); PostgreSQL, in a table of its
# own (store/postgres_recorder.py).


def link(previous: bytes, originator_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    """The next link of the chain (SHA-256; lengths are framed so fields cannot run together)."""
    return link_bytes(previous, originator_id.bytes, version, topic, state)


def link_bytes(previous: bytes, originator_id: bytes, version: int, topic: str, state: bytes) -> bytes:
    """`link`, given the aggregate id as its 16 bytes."""
    framed = _FRAMED_TOPICS.get(topic) or _framed(topic)
    # One buffer hashed in one call: the same digest as updating field by field, with a third of
    # the calls (this runs once for every event appended or verified).
    return sha256(
        b"".join(
            (
                previous,
                originator_id,
                version.to_bytes(8, "big", signed=True),
                framed,
                len(state).to_bytes(8, "big"),
                state,
            )
        )
    ).digest()


_FRAMED_TOPICS: dict[str, bytes] = {}


def _framed(topic: str) -> bytes:
    """A topic as hashed: its UTF-8 length (4 bytes) and bytes; remembered for the few topics there are."""
    encoded = topic.encode()
    framed = len(encoded).to_bytes(4, "big") + encoded
    if len(_FRAMED_TOPICS) < 1024:  # a tampered store could hold any number of topics
        _FRAMED_TOPICS[topic] = framed
    return framed


def continue_chain(
    previous: tuple[int, bytes] | None,
    positions: Iterable[int],
    events: Iterable[tuple[Any, int, str, bytes]],
    id_bytes: Callable[[Any], bytes],
) -> list[ChainRow]:
    """Chain rows for newly stored events (id, version, topic, state) at these positions,
    continuing from the chain's last (ordinal, link); `id_bytes` turns an id into its 16 bytes."""
    ordinal, last = previous or (0, GENESIS)
    rows = []
    for position, (originator_id, version, topic, state) in zip(positions, events, strict=True):
        ordinal += 1
        last = link_bytes(last, id_bytes(originator_id), version, topic, state)
        rows.append((position, ordinal, last))
    return rows


def uuid_bytes(originator_id: UUID) -> bytes:
    """A UUID's 16 bytes (for `continue_chain`)."""
    return originator_id.bytes
