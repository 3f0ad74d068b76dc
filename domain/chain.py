"""The hash chain over the global event order: each link hashes the previous link and one
stored event's identity (aggregate id and version), topic and stored bytes."""

from __future__ import annotations

import hashlib
from uuid import UUID

GENESIS = bytes(32)


def link(previous: bytes, originator_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    """The next link of the chain (SHA-256; lengths are framed so fields cannot run together)."""
    digest = hashlib.sha256(previous)
    digest.update(originator_id.bytes)
    digest.update(version.to_bytes(8, "big", signed=True))
    encoded = topic.encode()
    digest.update(len(encoded).to_bytes(4, "big"))
    digest.update(encoded)
    digest.update(len(state).to_bytes(8, "big"))
    digest.update(state)
    return digest.digest()
