"""One renderer for every read command: table, json, ndjson or csv, from rows of builtins."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import click
import msgspec

F = TypeVar("F", bound=Callable[..., Any])
Row = Mapping[str, Any]

FORMATS = ("table", "json", "ndjson", "csv")
_json = msgspec.json.Encoder()


def output_options(*formats: str, default: str = "table") -> Callable[[F], F]:
    """--format, limited to the formats a command supports."""
    choices = formats or FORMATS
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=default,
        show_default=True,
        help="Output format; json and ndjson use the IPS field names.",
    )


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


def emit_csv(rows: Sequence[Row], columns: Sequence[str]) -> None:
    """Print rows as CSV with a header."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    click.echo(buffer.getvalue(), nl=False)


def emit_table(
    rows: Sequence[Row],
    columns: Sequence[str],
    *,
    width: int | None = None,
    header: bool = True,
    keep: Sequence[str] = (),
    optional: Sequence[str] = (),
) -> None:
    """Print rows as an aligned table that fits the terminal, shortening the widest columns.

    Columns in `keep` (handles people copy into the next command) are shortened last; columns in
    `optional` are left out, last first, when the others would not fit beside them.
    """
    width = width or shutil.get_terminal_size((80, 24)).columns
    columns = list(columns)
    for column in reversed(optional):
        needed = sum(max([len(c), *(len(_cell(row.get(c))) for row in rows)]) for c in columns)
        if needed + 2 * (len(columns) - 1) <= width:
            break
        columns.remove(column)
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column), *(len(line[i]) for line in cells)]) for i, column in enumerate(columns)]
    budget = width - 2 * (len(columns) - 1)
    for shrinkable in ([i for i, c in enumerate(columns) if c not in keep], list(range(len(columns)))):
        while sum(widths) > budget and shrinkable and max(widths[i] for i in shrinkable) > 8:
            widest = max(shrinkable, key=lambda i: widths[i])
            widths[widest] -= 1

    def fit(text: str, size: int) -> str:
        return text if len(text) <= size else text[: size - 1] + "…"

    if header:
        click.echo("  ".join(fit(c, w).ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for line in cells:
        click.echo("  ".join(fit(c, w).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())


def emit_record(record: Row) -> None:
    """Print one record as `key  value` lines."""
    size = max((len(key) for key in record), default=0)
    for key, value in record.items():
        click.echo(f"{key.ljust(size)}  {_cell(value)}")


def emit(fmt: str, rows: Sequence[Row], columns: Sequence[str]) -> None:
    """Print rows in the chosen format (json prints a list)."""
    if fmt == "json":
        emit_json(list(rows))
    elif fmt == "ndjson":
        emit_ndjson(rows)
    elif fmt == "csv":
        emit_csv(rows, columns)
    else:
        emit_table(rows, columns)
