"""What the server and its writer process (server/writer_process.py) say to each other.

Frames on a pipe: four bytes of length, then the message. The server sends one `Asked` per
request: its commands, in order, pickled (exactly the objects the server made, unchecked, so
that the ledger's own validation refuses them with its own errors). The writer answers each
group it commits with one `Group`: a `Reply` per request it took, each command's `Answer`. A
state comes back as the JSON the API answers with (job_record), which the server embeds without
decoding; an error comes back as its class and message and is raised again as that class.
"""

from __future__ import annotations

import importlib
import pickle
import struct
from typing import Any

import msgspec

from jobledger.domain.commands import Command
from jobledger.domain.errors import LedgerError

LENGTH = struct.Struct("<I")


class Asked(msgspec.Struct, array_like=True, gc=False):
    """One request's commands, each recorded on its own (group commit), or all or none."""

    id: int
    commands: list[Command]
    together: bool = False


class Failure(msgspec.Struct, array_like=True, gc=False):
    """An error, to be raised again on the other side: its class, message and plain attributes."""

    kind: str
    message: str
    attributes: dict[str, Any] = {}


class Answer(msgspec.Struct, array_like=True, gc=False):
    """One command's answer: the position of its last event and its state (JSON), or an error."""

    position: int = 0
    replayed: bool = False
    handle: str = ""
    record: bytes = b""
    error: Failure | None = None


class Reply(msgspec.Struct, array_like=True, gc=False):
    """The answers to one Asked, or the failure of the whole request (the store's)."""

    id: int
    answers: list[Answer] = []
    failed: Failure | None = None


class Group(msgspec.Struct, array_like=True, gc=False):
    """What one commit answered, how many commands it held, how long it took, and the events it
    appended by kind."""

    replies: list[Reply]
    commands: int
    seconds: float
    position: int
    events: dict[str, int] = {}


_encode = msgspec.msgpack.Encoder().encode
decode_group = msgspec.msgpack.Decoder(Group).decode


def frame(message: msgspec.Struct) -> bytes:
    """A Group with its length before it."""
    body = _encode(message)
    return LENGTH.pack(len(body)) + body


def frames(buffer: bytearray) -> list[bytes]:
    """The whole frames at the start of `buffer`, taken out of it (a part of one stays)."""
    found = []
    start = 0
    while len(buffer) - start >= 4:
        (size,) = LENGTH.unpack_from(buffer, start)
        if len(buffer) - start - 4 < size:
            break
        found.append(bytes(buffer[start + 4 : start + 4 + size]))
        start += 4 + size
    del buffer[:start]
    return found


def asked(request: int, commands: list[Command], together: bool = False) -> bytes:
    """The frame of one request's commands."""
    body = pickle.dumps(Asked(request, commands, together), pickle.HIGHEST_PROTOCOL)
    return LENGTH.pack(len(body)) + body


def decode_asked(body: bytes) -> Asked:
    """An Asked from its frame (written by this server's own process)."""
    message = pickle.loads(body)
    if not isinstance(message, Asked):
        raise TypeError(f"not a request: {type(message).__name__}")
    return message


def failure(err: BaseException) -> Failure:
    """An error as it crosses the pipe."""
    kind = type(err)
    plain = {
        key: value
        for key, value in vars(err).items()
        if isinstance(value, str | int | float | bool) and not key.startswith("_")
    }
    return Failure(f"{kind.__module__}:{kind.__qualname__}", str(err), plain)


def raised(failed: Failure) -> Exception:
    """The error again, as its own class when it is one of the ledger's (RuntimeError otherwise:
    a fault of the writer, answered 500)."""
    module, _, name = failed.kind.partition(":")
    kind: Any = None
    if module.startswith("jobledger."):
        kind = getattr(importlib.import_module(module), name, None)
    if not (isinstance(kind, type) and issubclass(kind, LedgerError)):
        return RuntimeError(f"the writer failed: {failed.message}")
    err: Exception = kind.__new__(kind)
    Exception.__init__(err, failed.message)
    err.__dict__.update(failed.attributes)
    return err
