"""Rows of a view as SQLite values and back.

Each view row is a msgspec Struct; its fields become the table's columns. Times are stored as
fixed-width UTC ISO 8601 text so that they compare and sort correctly as text; nested values
(payloads, task rows) are JSON; booleans are 0/1. Encoders are worked out once per row type.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

import msgspec

R = TypeVar("R", bound=msgspec.Struct)

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder().decode


def as_time(value: Any) -> datetime | None:
    """A time as queries answer it (a datetime, or ISO 8601 text) as a datetime with a zone
    (none given: UTC); None for nothing."""
    if not value:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def iso(value: datetime) -> str:
    """A time as fixed-width UTC text: 2026-11-28T13:00:00.000000Z."""
    if value.tzinfo is not UTC:
        try:
            value = value.astimezone(UTC)
        except OverflowError:  # a bound a day past either end of the calendar: it sorts as that end
            return _FIRST if value.year == 1 else _LAST
    # msgspec writes RFC 3339 several times faster than isoformat or strftime, but leaves the
    # fraction out when it is zero; put it back, so every time has the same width and sorts as text.
    text = _json_encode(value)
    if len(text) == _WHOLE_SECOND:
        return text[1:-2].decode() + ".000000Z"
    return text[1:-1].decode()


_WHOLE_SECOND = len(b'"2026-11-28T13:00:00Z"')
_FIRST, _LAST = "0001-01-01T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z"


def _column_kind(annotation: Any) -> str:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        if len(args) == 1:
            return _column_kind(args[0])
        return "json"
    if origin is typing.Annotated:
        return _column_kind(args[0])
    if origin is typing.Literal:
        return "text"
    if annotation is datetime:
        return "time"
    if annotation is UUID:
        return "uuid"
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "integer"
    if annotation is float:
        return "float"
    if annotation is str:
        return "text"
    return "json"


# How each kind of column turns a field's value `v` (never None here) into an SQLite value.
_CONVERSIONS = {
    "time": "iso(v)",
    "uuid": "'%032x' % v.int",  # what UUID.hex does, without its property call
    "bool": "int(v)",
    "json": "json_encode(v).decode()",
}


def _compile_encoder(columns: Sequence[str], kinds: Sequence[str]) -> Callable[[Any], tuple[Any, ...]]:
    """One function that reads every field of a row and converts it, as a single expression.

    Encoding rows is a good part of a rebuild; generated code (as dataclasses does for its
    methods) was measured at less than half the time of a loop of converters over astuple().
    Field names are the Struct's own identifiers, never outside input.
    """
    parts = []
    for name, kind in zip(columns, kinds, strict=True):
        assert name.isidentifier(), name
        conversion = _CONVERSIONS.get(kind)
        if conversion is None:
            parts.append(f"row.{name}")
        else:
            parts.append(f"(None if (v := row.{name}) is None else {conversion})")
    source = "def encode(row):\n    return (" + ", ".join(parts) + ",)\n"
    namespace: dict[str, Any] = {"iso": iso, "json_encode": _json_encode}
    exec(source, namespace)
    encode: Callable[[Any], tuple[Any, ...]] = namespace["encode"]
    return encode


_SQL_TYPES = {
    "time": str,
    "uuid": str,
    "bool": int,
    "integer": int,
    "float": float,
    "text": str,
    "json": str,
}


class RowCodec(Generic[R]):
    """Converts rows of one Struct type to tuples of SQLite values and back."""

    def __init__(self, row_type: type[R]) -> None:
        self.row_type = row_type
        hints = typing.get_type_hints(row_type, include_extras=True)
        self.columns: tuple[str, ...] = row_type.__struct_fields__
        self.kinds = [_column_kind(hints[name]) for name in self.columns]
        self.encode: Callable[[R], tuple[Any, ...]] = _compile_encoder(self.columns, self.kinds)
        """The row's values in column order."""
        self._kind_of = dict(zip(self.columns, self.kinds, strict=True))

    def sql_types(self) -> dict[str, type]:
        """Column name -> Python type, for sqlite-utils' create_table."""
        return {name: _SQL_TYPES[kind] for name, kind in zip(self.columns, self.kinds, strict=True)}

    def to_dict(self, values: Sequence[Any], names: Sequence[str] | None = None) -> dict[str, Any]:
        """A stored row as builtins (JSON columns decoded), as JSON output shows it; `names` are
        the columns `values` hold when not the whole row."""
        names = self.columns if names is None else names
        data = dict(zip(names, values, strict=True))
        for name in names:
            kind = self._kind_of[name]
            value = data[name]
            if value is None:
                continue
            if kind == "json":
                data[name] = _json_decode(value)
            elif kind == "bool":
                data[name] = bool(value)
        return data

    def decode(self, values: Sequence[Any]) -> R:
        """A stored row back as its Struct."""
        return msgspec.convert(self.to_dict(values), type=self.row_type, strict=False)
