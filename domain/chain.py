"""The hash chain over the global event order: each link hashes the previous link and one
stored event's identity (aggregate id and version), topic and stored bytes."""

from __future__ import annotations

import hashlib
from uuid import UUID

GENESIS = bytes(32)
CHAIN_TABLE = "event_chain"  # on SQLite: (position, ordinal, link), one row per event


def link(previous: bytes, originator_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    """The next link of the chain (SHA-256; lengths are framed so fields cannot run together)."""
    return link_bytes(previous, originator_id.bytes, version, topic, state)


def link_bytes(previous: bytes, originator_id: bytes, version: int, topic: str, state: bytes) -> bytes:
    """`link`, given the aggregate id as its 16 bytes."""
    digest = hashlib.sha256(previous)
    digest.update(originator_id)
    digest.update(version.to_bytes(8, "big", signed=True))
    encoded = topic.encode()
    digest.update(len(encoded).to_bytes(4, "big"))
    digest.update(encoded)
    digest.update(len(state).to_bytes(8, "big"))
    digest.update(state)
    return digest.digest()
