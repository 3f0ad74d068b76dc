"""The typed boundary: every command is checked against its types and limits before it is decided.

A Struct's constructor checks nothing, so `UpdateProgress(percent=50.5)` is a valid Python object
that would be stored as it is and then fail every read. `validate` encodes the command and decodes
it as its own type (about half a microsecond for an UpdateProgress): msgspec then refuses a float
or bool for an int, bytes or None for a str, a too long string or list, and turns an ISO string
into a datetime, nested Structs (payloads, task rows, aux rows, counters) included.
"""

from __future__ import annotations

import re
from operator import attrgetter
from typing import Any

import msgspec

from .commands import (
    Command,
    Complete,
    Delete,
    Execute,
    Fire,
    LogDetail,
    Pause,
    RequestStop,
    Resume,
    Start,
    Submit,
    UpdateProgress,
)
from .errors import InvalidFieldError
from .limits import MAX_COMMAND_BYTES, explain
from .payloads import Payload, PayloadError, payload_error

COMMAND_TYPES: tuple[type[Command], ...] = (
    Submit,
    Start,
    UpdateProgress,
    LogDetail,
    RequestStop,
    Complete,
    Delete,
    Pause,
    Resume,
    Execute,
    Fire,
)

# Names: no control characters, newlines or line/paragraph separators (they would break a table,
# a log line or a handle). Free text (messages, descriptions, reasons) may hold them.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMES = frozenset(
    [
        "handle",
        "company",
        "name",
        "server",
        "log_type",
        "asset_name",
        "asset_type",
        "asset_handle",
        "user_email",
        "locale",
        "idempotency_key",
        "exec_schedule",
        "time_zone",
        "requested_by",
    ]
)

_encode = msgspec.msgpack.Encoder().encode
# Per command type: its decoder, and a getter of its name fields (one C call returning a tuple:
# every command has at least two, handle or name and company).
_CHECKS: dict[type[Command], tuple[Any, Any]] = {
    cls: (
        msgspec.msgpack.Decoder(cls).decode,
        attrgetter(*(name for name in cls.__struct_fields__ if name in _NAMES)),
    )
    for cls in COMMAND_TYPES
}


def validate(command: Command) -> Command:
    """The command as its declared types have it (an ISO `at` becomes a datetime), or InvalidFieldError."""
    cls = type(command)
    try:
        decode, names = _CHECKS[cls]
    except KeyError:
        raise TypeError(f"unknown command {cls.__name__}") from None
    try:
        data = _encode(command)
    except (TypeError, ValueError, OverflowError) as err:  # an unencodable value: find its field
        raise _unencodable(command, err) from err
    try:
        checked: Command = decode(data)
    except msgspec.ValidationError as err:
        path, problem = explain(err)
        if path.startswith("payload") and isinstance(command, Submit):
            raise _payload_problem(command.payload, path, problem) from err
        raise InvalidFieldError(path or cls.__name__, problem) from err
    if len(data) > MAX_COMMAND_BYTES:  # after the field limits, which name the problem better
        raise _too_large(command, len(data))
    for value in names(checked):
        # isprintable is fast and true for nearly every name; only when it is false (a control
        # character, or a space other than ' ') does the pattern decide.
        if value is not None and not value.isprintable():
            _check_names(checked)
    return checked


def _check_names(command: Command) -> None:
    for name in command.__struct_fields__:
        value = getattr(command, name) if name in _NAMES else None
        if value is not None and _CONTROL.search(value):
            raise InvalidFieldError(name, "control characters and newlines are not allowed")


def _unencodable(command: Command, err: Exception) -> InvalidFieldError:
    for name in command.__struct_fields__:
        value = getattr(command, name)
        try:
            _encode(value)
        except (TypeError, ValueError, OverflowError) as field_err:
            return InvalidFieldError(name, _unencodable_problem(value, field_err))
    return InvalidFieldError(type(command).__name__, str(err))


def _unencodable_problem(value: object, err: Exception) -> str:
    if isinstance(err, OverflowError):
        return "an integer out of range"
    if isinstance(err, UnicodeError):
        return "a string that is not valid Unicode (a lone surrogate)"
    return f"a value of type {_type_name(value, err)} is not allowed"


def _type_name(value: object, err: Exception) -> str:
    match = re.search(r"objects of type (\S+)", str(err))
    return match[1] if match else type(value).__name__


def _too_large(command: Command, size: int) -> InvalidFieldError:
    sizes = {name: len(_encode(getattr(command, name))) for name in command.__struct_fields__}
    largest = max(sizes, key=lambda name: sizes[name])
    return InvalidFieldError(
        largest, f"{sizes[largest]:,} bytes encoded, over the limit of {MAX_COMMAND_BYTES:,} bytes"
    )


def _payload_problem(payload: object, path: str, problem: str) -> PayloadError | InvalidFieldError:
    if isinstance(payload, Payload) and type(payload) is not Payload:
        err = msgspec.ValidationError(f"{problem} - at `$.{path}`")
        return payload_error(type(payload), msgspec.to_builtins(payload), err)
    if isinstance(payload, dict) and path != "payload":
        return PayloadError(f"invalid payload: {path.removeprefix('payload.')}: {problem}")
    return PayloadError("a payload must be one of the 13 submittable payload types")
