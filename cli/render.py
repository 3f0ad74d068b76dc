"""One renderer for every read command: table, json, ndjson or csv, from rows of builtins."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import click
import msgspec

from jobledger.cli import terminal

F = TypeVar("F", bound=Callable[..., Any])
Row = Mapping[str, Any]

FORMATS = ("table", "json", "ndjson", "csv")
_json = msgspec.json.Encoder()
# Columns whose first word is a state or an outcome, coloured on a terminal.
PAINTED = frozenset({"state", "outcome"})


def output_options(*formats: str, default: str | None = "table") -> Callable[[F], F]:
    """--format (limited to the formats a command supports), --wide and --no-color.

    With no default, the format is table on a terminal and the last format listed elsewhere
    (see `chosen_format`)."""
    choices = formats or FORMATS
    auto = f"table on a terminal, else {choices[-1]}"

    def decorate(f: F) -> F:
        f = terminal.no_colour_option(terminal.wide_option(f))
        return click.option(
            "--format",
            "fmt",
            type=click.Choice(choices),
            default=default,
            show_default=auto if default is None else True,
            help="Output format; json and ndjson use the IPS field names.",
        )(f)

    return decorate


def chosen_format(fmt: str | None, elsewhere: str) -> str:
    """The format given, or table on a terminal and ELSEWHERE in a pipe or file."""
    if fmt is not None:
        return fmt
    return "table" if terminal.stdout_is_terminal() else elsewhere


def to_builtins(value: Any) -> Any:
    """Structs, datetimes and UUIDs as JSON-ready builtins (times in ISO 8601)."""
    return msgspec.to_builtins(value)


def emit_json(value: Any) -> None:
    """Print one JSON document, indented for people."""
    click.echo(msgspec.json.format(_json.encode(value), indent=2).decode())


def emit_ndjson(rows: Iterable[Any]) -> None:
    """Print one JSON document per line."""
    for row in rows:
        click.echo(_json.encode(row).decode())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return _json.encode(value).decode()
    return str(value)


# Control characters (C0, DEL, C1) and the invisible marks that reorder or split lines: a table
# shows them escaped, so stored text can never move the cursor, recolour or forge a row.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(text: str) -> str:
    """Text with control characters escaped (\\n, \\x1b, \\u202e), safe to print to a terminal."""
    return _UNPRINTABLE.sub(_escape, text)


def emit_csv(rows: Sequence[Row], columns: Sequence[str]) -> None:
    """Print rows as CSV with a header."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    click.echo(buffer.getvalue(), nl=False)


def _word(text: str) -> str:
    """The word a painted cell is coloured for: a mark (stalled, deleted) before its state."""
    words = text.replace(",", " ").split()
    return next((w for w in words if w in ("stalled", "deleted")), words[0] if words else "")


def emit_table(
    rows: Sequence[Row],
    columns: Sequence[str],
    *,
    header: bool = True,
    free: Sequence[str] = (),
    optional: Sequence[str] = (),
    widths: Mapping[str, int] | None = None,
    count: bool = True,
) -> None:
    """Print rows as an aligned table, every cell escaped.

    In a pipe or file (or with --wide) every column is printed whole. On a terminal, columns in
    `optional` are left out, last first, while the others would not fit beside them; then only the
    `free` (free-text) columns are shortened, never handles. On a terminal the table ends with its
    row count.
    `widths` are minimum widths, so that tables printed in pieces line up.
    """
    columns = list(columns)
    cells = [[printable(_cell(row.get(column))) for column in columns] for row in rows]
    shaped = terminal.shaped()
    sizes = [
        max([len(column), (widths or {}).get(column, 0), *(len(texts[i]) for texts in cells)])
        for i, column in enumerate(columns)
    ]
    if shaped:
        room = terminal.width()
        for column in reversed(optional):
            if sum(sizes) + 2 * (len(sizes) - 1) <= room:
                break
            i = columns.index(column)
            del columns[i], sizes[i]
            for texts in cells:
                del texts[i]
        shrinkable = [i for i, column in enumerate(columns) if column in free]
        budget = room - 2 * (len(columns) - 1)
        while sum(sizes) > budget and shrinkable and max(sizes[i] for i in shrinkable) > 8:
            sizes[max(shrinkable, key=lambda i: sizes[i])] -= 1

    def fit(text: str, size: int) -> str:
        return text if len(text) <= size else text[: size - 1] + "…"

    painted = [column in PAINTED for column in columns]

    def line(texts: Sequence[str], paint: bool) -> str:
        padded = [fit(t, s).ljust(s) for t, s in zip(texts, sizes, strict=True)]
        if paint:
            padded = [
                terminal.paint(p, _word(t)) if c else p
                for p, t, c in zip(padded, texts, painted, strict=True)
            ]
        return "  ".join(padded).rstrip()

    colour = terminal.colour_on()
    if header:
        click.echo(line(columns, False))
    for texts in cells:
        click.echo(line(texts, colour))
    if count and terminal.stdout_is_terminal():
        click.echo(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")


def emit_record(record: Row) -> None:
    """Print one record as `key  value` lines, values escaped."""
    size = max((len(key) for key in record), default=0)
    for key, value in record.items():
        text = printable(_cell(value))
        if key in PAINTED:
            text = terminal.paint(text, _word(text))
        click.echo(f"{key.ljust(size)}  {text}")


def emit_one(fmt: str, record: Row) -> None:
    """Print one record: table as `key  value` lines, json indented, ndjson as one line."""
    if fmt == "json":
        emit_json(record)
    elif fmt == "ndjson":
        emit_ndjson([record])
    else:
        emit_record(record)


def emit(fmt: str, rows: Sequence[Row], columns: Sequence[str], **table: Any) -> None:
    """Print rows in the chosen format (json prints a list); TABLE are emit_table's options."""
    if fmt == "json":
        emit_json(list(rows))
    elif fmt == "ndjson":
        emit_ndjson(rows)
    elif fmt == "csv":
        emit_csv(rows, columns)
    else:
        emit_table(rows, columns, **table)
