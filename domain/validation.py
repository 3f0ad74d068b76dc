"""The typed boundary: every command is checked against its types and limits before it is decided.

A Struct's constructor checks nothing, so `UpdateProgress(percent=50.5)` is a valid Python object
that would be stored as it is and then fail every read. `validate` encodes the command and decodes
it as its own type (about half a microsecond for an UpdateProgress): msgspec then refuses a float
or bool for an int, bytes or None for a str, a too long string or list, and turns an ISO string
into a datetime, nested Structs (payloads, task rows, aux rows, counters) included.

Times must lie in limits.EARLIEST..LATEST and integers in 64 bits (counts and sizes 0..2**63-1,
percent 0..100): past that, a value could not be converted to UTC, stored or rendered.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import chain, compress, count, repeat
from operator import attrgetter, is_
from types import GenericAlias
from typing import Any, cast

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
from .errors import InvalidFieldError, OutOfRangeError, RuleError
from .limits import MAX_COMMAND_BYTES, MAX_COUNT, explain, outside, time_problem
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
_json_encode = msgspec.json.Encoder().encode
# The integer arguments of commands, where a value is not a count or a size (0..MAX_COUNT).
_INT_RANGES = {"percent": (0, 100)}


def _submit_times(command: Submit) -> None:
    if command.exec_time is not None and outside(command.exec_time):
        raise OutOfRangeError("exec_time", time_problem(command.exec_time))


def _task_times(command: UpdateProgress) -> None:
    for index, task in enumerate(command.tasks):
        moment = task.lastProgressUpdate
        if moment is not None and outside(moment):
            raise OutOfRangeError(f"tasks[{index}].lastProgressUpdate", time_problem(moment))
        for item_index, item in enumerate(task.taskItemProgressArray):
            moment = item.lastProgressUpdate
            if moment is not None and outside(moment):
                path = f"tasks[{index}].taskItemProgressArray[{item_index}].lastProgressUpdate"
                raise OutOfRangeError(path, time_problem(moment))


def _aux_times(command: LogDetail) -> None:
    for index, row in enumerate(command.aux):
        if row.dateCreated is not None and outside(row.dateCreated):
            raise OutOfRangeError(f"aux[{index}].dateCreated", time_problem(row.dateCreated))


# The times a command carries besides `at`, checked against the range (most carry none): the
# field holding them (empty or None in most commands, so the check is skipped) and its check.
_TIMES: dict[type[Command], tuple[str, Any]] = {
    Submit: ("exec_time", _submit_times),
    UpdateProgress: ("tasks", _task_times),
    LogDetail: ("aux", _aux_times),
}

# Per command type: its decoder, a getter of its name fields (one C call returning a tuple:
# every command has at least two, handle or name and company), and where its other times are.
_CHECKS: dict[type[Command], tuple[Any, Any, tuple[str, Any] | None]] = {
    cls: (
        msgspec.msgpack.Decoder(cls).decode,
        attrgetter(*(name for name in cls.__struct_fields__ if name in _NAMES)),
        _TIMES.get(cls),
    )
    for cls in COMMAND_TYPES
}
_LIST_DECODERS: dict[type[Command], Any] = {
    cls: msgspec.msgpack.Decoder(GenericAlias(list, (cls,))).decode for cls in COMMAND_TYPES
}
_AT = attrgetter("at")


def validate(command: Command) -> Command:
    """The command as its declared types have it (an ISO `at` becomes a datetime), or InvalidFieldError."""
    checks = _CHECKS.get(type(command))
    if checks is None:
        raise TypeError(f"unknown command {type(command).__name__}")
    decode, names, times = checks
    try:
        data = _encode(command)
        checked: Command = decode(data)
    except msgspec.ValidationError as err:
        raise _invalid(command, err) from err
    except OverflowError as err:  # an integer past 64 bits, or a time past the calendar in UTC
        raise _out_of_range(command, err) from err
    except (TypeError, ValueError) as err:  # an unencodable value: find its field
        raise _unencodable(command, err) from err
    if len(data) > MAX_COMMAND_BYTES:  # after the field limits, which name the problem better
        raise _too_large(command, len(data))
    at = checked.at
    if at is not None and outside(at):
        raise OutOfRangeError("at", time_problem(at))
    if times is not None and getattr(checked, times[0]):
        times[1](checked)
    # One pass over the names joined (None and empty ones left out): isprintable is true for
    # nearly every name; only when it is false (a control character, or a space other than ' ')
    # does the pattern decide, field by field.
    if not "".join(filter(None, names(checked))).isprintable():
        _check_names(checked)
    return checked


class _StateAt(msgspec.Struct, frozen=True, kw_only=True):
    """The arguments of a read of a past state (state_at), checked as a command's are."""

    as_of: datetime | None = None
    version: int | None = None


_STATE_AT = msgspec.msgpack.Decoder(_StateAt).decode


def validate_state_at(
    as_of: datetime | str | None, version: int | None
) -> tuple[datetime | None, int | None]:
    """`state_at`'s time and version as their types have them: `as_of` is taken as a command's `at`
    is (an ISO 8601 string becomes a datetime; no zone means UTC), or InvalidFieldError names it.
    Whether the run has that version or existed then is the ledger's to say."""
    given = _StateAt(as_of=cast(datetime | None, as_of), version=version)
    try:
        checked = _STATE_AT(_encode(given))
    except msgspec.ValidationError as err:
        raise InvalidFieldError(*explain(err)) from err
    except (OverflowError, TypeError, ValueError) as err:  # an integer past 64 bits, an odd type
        raise _unencodable(given, err) from err
    moment = checked.as_of
    if moment is not None and outside(moment):
        raise OutOfRangeError("as_of", time_problem(moment))
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment, checked.version


def validate_batch(commands: Sequence[Command]) -> list[Command]:
    """`validate` of every command of a batch, in order; the first broken one raises, naming its
    place in the batch as the decider does ("command 3 (LogDetail): ...").

    Commands of one type are encoded and decoded as one list, and their sizes, times and names
    checked in one pass each: a fraction of what validating them one by one costs. If anything in
    a group is wrong, the batch is validated command by command, so the error is the very one
    `validate` gives, for the first command that has one.
    """
    if len(commands) == 1:
        return [validate(commands[0])]  # the first command of a batch is not named by its place
    if not commands:
        return []
    kinds = list(map(type, commands))
    checked: list[Command] = list(commands)
    for cls in dict.fromkeys(kinds):
        # (C loops: this runs for every command of every batch.)
        indexes = list(compress(count(), map(is_, kinds, repeat(cls))))
        decoded = _group(cls, list(map(commands.__getitem__, indexes)))
        if decoded is None:
            return _each(commands)
        deque(map(checked.__setitem__, indexes, decoded), maxlen=0)
    return checked


def _group(cls: type[Command], group: list[Command]) -> list[Command] | None:
    """The commands of one type validated together, or None if any of them is wrong."""
    if cls not in _CHECKS:
        return None
    _, names, times = _CHECKS[cls]
    try:
        # Each command encoded alone (its size is checked) and the group decoded as one list.
        encoded = list(map(_encode, group))
        if max(map(len, encoded)) > MAX_COMMAND_BYTES:
            return None
        decoded: list[Command] = _LIST_DECODERS[cls](_encode(list(map(msgspec.Raw, encoded))))
        ats = list(filter(None, map(_AT, decoded)))
        if ats and (outside(min(ats)) or outside(max(ats))):
            return None
    except (msgspec.ValidationError, OverflowError, TypeError, ValueError):
        return None  # (TypeError also when naive and aware times are compared)
    if times is not None:
        field, check = times
        try:
            for command in filter(attrgetter(field), decoded):
                check(command)
        except OutOfRangeError:
            return None
    if not "".join(filter(None, chain.from_iterable(map(names, decoded)))).isprintable():
        return None
    return decoded


def _each(commands: Sequence[Command]) -> list[Command]:
    checked = []
    for index, command in enumerate(commands):
        try:
            checked.append(validate(command))
        except RuleError as err:
            if index:
                err.args = (f"command {index + 1} ({type(command).__name__}): {err}",)
            raise
    return checked


def _invalid(command: Command, err: msgspec.ValidationError) -> PayloadError | InvalidFieldError:
    path, problem = explain(err)
    if path.startswith("payload") and isinstance(command, Submit):
        return _payload_problem(command.payload, path, problem)
    return InvalidFieldError(path or type(command).__name__, problem)


def check_name_text(field: str, value: str) -> None:
    """InvalidFieldError if a name (one line of text) holds a control character or a line break."""
    if _CONTROL.search(value):
        raise InvalidFieldError(field, "control characters and newlines are not allowed")


def _check_names(command: Command) -> None:
    for name in command.__struct_fields__:
        value = getattr(command, name) if name in _NAMES else None
        if value is not None:
            check_name_text(name, value)


def _out_of_range(command: Command, err: OverflowError) -> PayloadError | InvalidFieldError:
    """The field past a range, found through JSON, which holds any integer and any offset."""
    cls = type(command)
    try:
        decoded = msgspec.json.decode(_json_encode(command), type=cls)
    except msgspec.ValidationError as json_err:  # a count past its limit names its path
        path, problem = explain(json_err)
        if path.startswith("payload") and isinstance(command, Submit):
            return _payload_problem(command.payload, path, problem)
        error = OutOfRangeError if "int <=" in problem or "int >=" in problem else InvalidFieldError
        return error(path or cls.__name__, problem)
    except (TypeError, ValueError, OverflowError):
        return _unencodable(command, err)
    try:
        if decoded.at is not None and outside(decoded.at):
            raise OutOfRangeError("at", time_problem(decoded.at))
        times = _CHECKS[cls][2]
        if times is not None:
            times[1](decoded)
    except OutOfRangeError as found:
        return found
    for name in cls.__struct_fields__:
        value = getattr(command, name)
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
            least, most = _INT_RANGES.get(name, (0, MAX_COUNT))
            return OutOfRangeError(name, f"an integer out of range ({least} to {most})")
    return _unencodable(command, err)


def _unencodable(command: msgspec.Struct, err: Exception) -> InvalidFieldError:
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
