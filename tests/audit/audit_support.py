"""Helpers of the audit tests: stores, the CLI in-process and as a process, a varied history written
with explicit times, direct SQL behind the ledger's back, and the hash chain computed independently."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from uuid import UUID

import psycopg
from cli_checks import explain
from click.testing import CliRunner, Result
from psycopg import sql

from jobledger.cli.main import cli
from jobledger.domain.events import Counters, JobLogDetailAux, TaskProgress
from jobledger.domain.payloads import AnyPayload, decode_payload
from jobledger.service.ledger import JobLedger

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
JOBLEDGER = str(Path(sys.executable).parent / "jobledger")
CLEAN_ENV: dict[str, str | None] = {"JOBLEDGER_DB": None, "JOBLEDGER_VIEWS": None, "COLUMNS": "200"}

OPTIMIZE = '{"emailSetting": "All"}'
PUBLISH = '{"emailSetting": "All", "publishType": "Full"}'
UPLOAD = (
    '{"serverDir": "incoming/", "overwrite": true, "readyForPublish": true, "includeSubfolders": false,'
    ' "createMask": false, "processMetadataFiles": false, "emailSetting": "None"}'
)


def at(seconds: float) -> datetime:
    """A fixed moment, `seconds` after T0."""
    return T0 + timedelta(seconds=seconds)


def iso(moment: datetime | float) -> str:
    """A moment (or seconds after T0) as the CLI takes it."""
    if not isinstance(moment, datetime):
        moment = at(moment)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def payload(kind: str, text: str) -> AnyPayload:
    """A validated payload of a kind."""
    return decode_payload(kind, text.encode())


# --- stores ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Store:
    """Where a ledger lives: an SQLite file, or a PostgreSQL schema with its views in a local file."""

    db: str
    views: str | None = None
    dsn: str | None = None
    schema: str | None = None

    @property
    def is_postgres(self) -> bool:
        return self.schema is not None

    def options(self) -> list[str]:
        """The global options naming this store."""
        return ["--db", self.db, *(["--views", self.views] if self.views else [])]

    def open(self) -> JobLedger:
        """A JobLedger on this store (the caller closes it)."""
        return JobLedger(self.db)


StoreFactory = Callable[[str], Store]


def run(store: Store, *args: str, stdin: bytes | None = None) -> Result:
    """`jobledger --db ... ARGS` in-process, stdout and stderr kept apart."""
    return CliRunner().invoke(cli, [*store.options(), *args], input=stdin, env=CLEAN_ENV)


def ok(store: Store, *args: str, stdin: bytes | None = None) -> str:
    """Run a command that must succeed without a word on stderr; its stdout."""
    result = run(store, *args, stdin=stdin)
    assert result.exit_code == 0, explain(result)
    assert result.stderr == "", explain(result)
    return result.stdout


def as_json(store: Store, *args: str) -> Any:
    """A command's `--format json` output, parsed."""
    return json.loads(ok(store, *args, "--format", "json"))


def event_count(store: Store) -> int:
    """How many events the store holds, read by a fresh ledger."""
    ledger = JobLedger(store.db, create=False)
    try:
        return ledger.event_count()
    finally:
        ledger.close()


def digest_of(store: Store) -> str:
    """`audit digest`, stripped."""
    return ok(store, "audit", "digest").strip()


# --- the CLI as a separate process ---------------------------------------------------------------


def child_env() -> dict[str, str]:
    """The environment of a child `jobledger`, without the caller's ledger settings."""
    env = {k: v for k, v in os.environ.items() if k not in ("JOBLEDGER_DB", "JOBLEDGER_VIEWS")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Child:
    """A `jobledger` process whose stdout lines are read by a thread, so reads can time out."""

    def __init__(self, store: Store, *args: str) -> None:
        self.process = subprocess.Popen(
            [JOBLEDGER, *store.options(), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(),
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.decode())
        self.lines.put(None)

    def next_line(self, timeout: float) -> str:
        """The next line printed, waiting at most `timeout` seconds."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"nothing printed within {timeout}s") from None
        assert line is not None, f"the process ended: {self.finish(1)}"
        return line

    def finish(self, timeout: float) -> tuple[int, str, str]:
        """Wait for the process; (exit code, rest of stdout, stderr)."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        self._reader.join(timeout)
        rest = []
        while not self.lines.empty():
            line = self.lines.get()
            if line is not None:
                rest.append(line)
        assert self.process.stderr is not None
        stderr = self.process.stderr.read().decode()
        self.process.stderr.close()
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code, "".join(rest), stderr

    def kill(self) -> None:
        """End the process if it is still running (cleanup after a failure)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None and not stream.closed:
                stream.close()


# --- a varied history, written through the ledger API with explicit times --------------------------


@dataclass
class Handles:
    """Handles of the history, filled in as it is written."""

    runs: dict[str, str] = field(default_factory=dict)
    schedules: dict[str, str] = field(default_factory=dict)

    def all_runs(self) -> list[str]:
        return list(self.runs.values())


def write_history(ledger: JobLedger, handles: Handles) -> Iterator[datetime]:
    """Write a day's worth of runs and schedules of two companies, yielding after each step the
    moment it was written at (every event of the step is stamped at or before it, every later
    event after it)."""
    tasks = [TaskProgress(taskType="UrlFetch", numProcessed=3, numPending=1, progress=0.75)]

    h = handles.runs
    h["upload"] = ledger.submit(
        "acme", "upload", payload("uploadDirectoryJob", UPLOAD), user_email="ann@acme.test", at=at(0)
    )
    yield at(0)
    h["publish"] = ledger.submit("globex", "publish", payload("imageServingPublishJob", PUBLISH), at=at(60))
    handles.schedules["daily"] = ledger.submit(
        "acme", "daily", payload("optimizeImagesJob", OPTIMIZE), exec_schedule="0 0 9 * * ?", at=at(60)
    )
    yield at(60)
    ledger.start(h["upload"], "ips-1", total_size=400, at=at(120))
    ledger.update_progress(h["upload"], 30, message="fetching", tasks=tasks, at=at(150))
    yield at(150)
    ledger.log_detail(h["upload"], "UploadSuccess", "stored a.jpg", asset_name="a.jpg", at=at(200))
    ledger.log_detail(
        h["upload"],
        "UploadWarning",
        "b.jpg is small",
        asset_name="b.jpg",
        aux=[JobLogDetailAux(logMessage="72 dpi", logType="UploadWarning")],
        at=at(210),
    )
    ledger.start(h["publish"], "ips-2", at=at(220))
    ledger.update_progress(h["publish"], 50, at=at(230))
    yield at(230)
    ledger.request_stop(h["publish"], reason="wrong assets", requested_by="bo@globex.test", at=at(300))
    ledger.update_progress(h["upload"], 80, message="almost", server="ips-1", at=at(310))
    yield at(310)
    ledger.complete(h["upload"], message="done", at=at(400))
    ledger.complete(h["publish"], at=at(410))
    h["waiting"] = ledger.submit(
        "globex", "optimize", payload("optimizeImagesJob", OPTIMIZE), idempotency_key="k-1", at=at(420)
    )
    yield at(420)
    fired = ledger.fire(handles.schedules["daily"], at=at(3600))
    assert fired is not None
    h["fired"] = fired
    ledger.start(fired, "ips-3", at=at(3610))
    ledger.log_detail(fired, "UploadError", "c.tif unreadable", asset_name="c.tif", at=at(3620))
    yield at(3620)
    ledger.pause(handles.schedules["daily"], requested_by="ann@acme.test", at=at(3700))
    ledger.complete(fired, counters=Counters(fileErrorCount=1, totalFileCount=1), at=at(3710))
    handles.schedules["once"] = ledger.submit(
        "globex", "once", payload("metadataPublishJob", "{}"), exec_time=at(90_000), at=at(3720)
    )
    yield at(3720)
    h["doomed"] = ledger.submit("acme", "doomed", payload("optimizeImagesJob", OPTIMIZE), at=at(3800))
    ledger.start(h["doomed"], "ips-1", at=at(3810))
    ledger.delete(h["doomed"], requested_by="ann@acme.test", at=at(3820))
    ledger.resume(handles.schedules["daily"], at=at(3830))
    ledger.delete(handles.schedules["once"], at=at(3840))
    yield at(3840)
    h["fatal"] = ledger.submit("acme", "fatal", payload("optimizeImagesJob", OPTIMIZE), at=at(3900))
    ledger.start(h["fatal"], "ips-2", at=at(3910))
    ledger.log_detail(h["fatal"], "FatalError", "disk full", at=at(3920))
    ledger.complete(h["fatal"], fatal=True, at=at(3930))
    ledger.start(h["waiting"], "ips-3", at=at(3940))
    yield at(3940)


def fill(store: Store) -> Handles:
    """Write the whole history into a store."""
    handles = Handles()
    ledger = store.open()
    try:
        for _ in write_history(ledger, handles):
            pass
    finally:
        ledger.close()
    return handles


# --- the chain, computed here from its definition ------------------------------------------------

GENESIS = bytes(32)


def chain_link(previous: bytes, originator_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    """SHA-256 over the previous link, the event's id and version, and its length-framed topic and bytes."""
    topic_bytes = topic.encode()
    return hashlib.sha256(
        previous
        + originator_id.bytes
        + version.to_bytes(8, "big", signed=True)
        + len(topic_bytes).to_bytes(4, "big")
        + topic_bytes
        + len(state).to_bytes(8, "big")
        + state
    ).digest()


class Row(NamedTuple):
    """One stored event as the table holds it."""

    position: int
    originator_id: UUID
    version: int
    topic: str
    state: bytes


def recomputed_links(rows: list[Row]) -> list[bytes]:
    """The chain over these rows, in order."""
    links, previous = [], GENESIS
    for row in rows:
        previous = chain_link(previous, row.originator_id, row.version, row.topic, row.state)
        links.append(previous)
    return links


# --- SQL behind the ledger's back ------------------------------------------------------------------


class Tables:
    """The ledger's own tables, read and changed directly (as an intruder with database access would)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        if store.is_postgres:
            self.events_table, self.position, self.chain_table = (
                "jobledger_events",
                "notification_id",
                "jobledger_events_chain",
            )
        else:  # the chain is in the event rows (chain_ordinal, chain_link, chain_next)
            self.events_table, self.position, self.chain_table = "stored_events", "rowid", ""

    def _execute(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.store.is_postgres:
            assert self.store.dsn is not None and self.store.schema is not None
            with psycopg.connect(self.store.dsn, autocommit=True) as conn:
                conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.store.schema)))
                cursor = conn.execute(statement.replace("?", "%s"), params)
                return list(cursor.fetchall()) if cursor.description else []
        with closing(sqlite3.connect(self.store.db)) as conn, conn:
            return conn.execute(statement, params).fetchall()

    def _id(self, uuid: UUID) -> Any:
        return uuid if self.store.is_postgres else uuid.hex

    def rows(self) -> list[Row]:
        """Every stored event in position order."""
        found = self._execute(
            f"SELECT {self.position}, originator_id, originator_version, topic, state"
            f" FROM {self.events_table} ORDER BY {self.position}"
        )
        return [Row(p, u if isinstance(u, UUID) else UUID(u), v, t, bytes(s)) for p, u, v, t, s in found]

    def row(self, position: int) -> Row:
        (found,) = [row for row in self.rows() if row.position == position]
        return found

    def set_state(self, position: int, state: bytes) -> None:
        self._execute(
            f"UPDATE {self.events_table} SET state = ? WHERE {self.position} = ?", (state, position)
        )

    def flip_byte(self, position: int) -> None:
        """Change one byte in the middle of an event's stored state."""
        state = bytearray(self.row(position).state)
        state[len(state) // 2] ^= 0x01
        self.set_state(position, bytes(state))

    def delete(self, position: int) -> None:
        self._execute(f"DELETE FROM {self.events_table} WHERE {self.position} = ?", (position,))

    def insert(self, originator_id: UUID, version: int, topic: str, state: bytes) -> None:
        self._execute(
            f"INSERT INTO {self.events_table} (originator_id, originator_version, topic, state)"
            " VALUES (?, ?, ?, ?)",
            (self._id(originator_id), version, topic, state),
        )

    def chain(self) -> list[tuple[int, int, bytes]]:
        if self.store.is_postgres:
            found = self._execute(f"SELECT position, ordinal, link FROM {self.chain_table} ORDER BY position")
        else:  # SQLite keeps each link in its event's row
            found = self._execute(
                "SELECT rowid, chain_ordinal, chain_link FROM stored_events"
                " WHERE chain_link IS NOT NULL ORDER BY rowid"
            )
        return [(p, o, bytes(link)) for p, o, link in found]

    def set_link(self, position: int, link: bytes) -> None:
        if self.store.is_postgres:
            self._execute(f"UPDATE {self.chain_table} SET link = ? WHERE position = ?", (link, position))
        else:
            self._execute("UPDATE stored_events SET chain_link = ? WHERE rowid = ?", (link, position))

    def delete_link(self, position: int) -> None:
        """Erase every trace of a position's link (on SQLite: the link, and the mark on the row
        before that says a row followed it)."""
        if self.store.is_postgres:
            self._execute(f"DELETE FROM {self.chain_table} WHERE position = ?", (position,))
        else:
            self._execute(
                "UPDATE stored_events SET chain_ordinal = NULL, chain_link = NULL WHERE rowid = ?",
                (position,),
            )
            self._execute("UPDATE stored_events SET chain_next = 0 WHERE rowid = ?", (position - 1,))

    def relink(self) -> None:
        """Rewrite the whole chain to match the stored events as they now are (a consistent forgery)."""
        rows = self.rows()
        for row, link in zip(rows, recomputed_links(rows), strict=True):
            self.set_link(row.position, link)
