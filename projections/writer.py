"""Writes a rebuild's rows: in this process for a small rebuild, from a child process for a large one.

A rebuild is a fold (Python) and row writes (Python to encode rows, SQLite to insert them, then
the index builds). In one process the two take turns under the GIL, and a writer thread did not
help for that reason (measured: no faster). So a large rebuild keeps the fold here and hands the
rows to a child process (store/processes.py) with a connection of its own: both cores
work. Rows cross a pipe as MessagePack, encoded and decoded by msgspec in C. Starting the child
(a fresh interpreter that imports jobledger) takes a few tenths of a second, more than a small
rebuild saves.

Every write is a transaction of its own, so the ledger's writers are never held up for long. A
failure in the child reaches the rebuild as a StoreError at its next call; if the rebuild fails,
the child sees the pipe close and stops.
"""

from __future__ import annotations

import json
import os
import sys
from types import GenericAlias
from typing import Any, BinaryIO, Protocol, TextIO

import msgspec

from jobledger.domain.errors import StoreError
from jobledger.projections.bulk import Rows
from jobledger.projections.database import ViewsDatabase
from jobledger.projections.views import VIEWS, View
from jobledger.store import processes

# From this many events on, a rebuild writes from a child process.
PROCESS_AT = 100_000
_DONE = "done"

# What a frame holds: the rows of a page [(table, slots, rows as MessagePack)], or the
# position the finished tables are at. The rows stay raw until the child knows their table.
_Message = list[tuple[str, list[int] | None, msgspec.Raw]] | int


class RowWriter(Protocol):
    """Where a rebuild's rows go; `finish` returns once they are all written and indexed."""

    def write(self, settled: dict[str, Rows]) -> None: ...

    def finish(self, head: int) -> None: ...

    def close(self) -> None: ...


def open_writer(views: ViewsDatabase, tables: dict[str, View], events: int) -> RowWriter:
    """The writer for a rebuild of `events` events into these tables (table name -> view)."""
    if events >= PROCESS_AT and not views.copied_from:  # a copy in memory: no other process can reach it
        return ChildWriter(views.path, tables)
    return LocalWriter(views, tables)


def write_rows(db: ViewsDatabase, tables: dict[str, View], settled: dict[str, Rows]) -> None:
    """One transaction writing the rows of a page."""
    with db.writing():
        for table, rows in settled.items():
            if rows.rows:
                db.append(tables[table], table, rows.rows, rows.slots)


def finish_tables(db: ViewsDatabase, tables: dict[str, View], head: int) -> None:
    """One transaction indexing the filled tables and noting that they are at `head`."""
    with db.writing():
        for table, view in tables.items():
            db.create_indexes(view, table)
            db.set_position(table, head)


class LocalWriter:
    """Writes on the rebuild's own connection, as it goes."""

    def __init__(self, views: ViewsDatabase, tables: dict[str, View]) -> None:
        self._db = views
        self._tables = tables

    def write(self, settled: dict[str, Rows]) -> None:
        write_rows(self._db, self._tables, settled)

    def finish(self, head: int) -> None:
        finish_tables(self._db, self._tables, head)

    def close(self) -> None:
        pass


class ChildWriter:
    """Writes from a child process, fed frames of rows through its stdin."""

    def __init__(self, path: str, tables: dict[str, View]) -> None:
        names = {table: view.name for table, view in tables.items()}
        self._child = processes.start(__name__, path, json.dumps(names))
        self._encode = msgspec.msgpack.Encoder().encode

    def write(self, settled: dict[str, Rows]) -> None:
        message = [
            (table, rows.slots, msgspec.Raw(self._encode(rows.rows)))
            for table, rows in settled.items()
            if rows.rows
        ]
        if message:
            self._send(message)

    def finish(self, head: int) -> None:
        self._send(head)
        assert self._child.stdin is not None
        self._child.stdin.close()
        self._reply()

    def close(self) -> None:
        processes.stop(self._child)

    def _send(self, message: _Message) -> None:
        if self._child.poll() is not None:  # the child ends early only when it failed
            self._reply()
        assert self._child.stdin is not None
        try:
            self._child.stdin.write(processes.frame(self._encode(message)))
        except OSError:
            self._reply()

    def _reply(self) -> None:
        assert self._child.stdout is not None
        reply = self._child.stdout.read().decode(errors="replace").strip()
        if reply == _DONE:
            return
        reason = reply or f"the writer process stopped ({processes.why_stopped(self._child)})"
        raise StoreError(f"rebuild failed writing rows: {reason}")


def serve(path: str, names: dict[str, str], frames: BinaryIO, replies: TextIO) -> None:
    """The child: write each page of rows as it comes, then index; reply done, or the error."""
    tables = {table: VIEWS[name] for table, name in names.items()}
    decode_message = msgspec.msgpack.Decoder(_Message).decode
    decoders: dict[str, Any] = {
        table: msgspec.msgpack.Decoder(GenericAlias(list, (view.row_type,))).decode
        for table, view in tables.items()
    }
    db = ViewsDatabase.reopen(path)
    # The rebuilding process waits while the indexes are built: let SQLite's sorter use both cores.
    db.conn.execute(f"PRAGMA threads={os.cpu_count() or 1}")
    try:
        for data in processes.frames(frames):
            message = decode_message(data)
            if isinstance(message, int):
                finish_tables(db, tables, message)
                replies.write(_DONE)
                return
            settled = {table: Rows(decoders[table](raw), slots) for table, slots, raw in message}
            write_rows(db, tables, settled)
        # The rebuild stopped before the end: its tables aside stay unfinished, as after a kill.
    except Exception as err:
        replies.write(f"{type(err).__name__}: {err}")
    finally:
        db.close()


if __name__ == "__main__":
    serve(sys.argv[1], json.loads(sys.argv[2]), sys.stdin.buffer, sys.stdout)
