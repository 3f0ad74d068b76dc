"""Export the ledger as NDJSON envelopes in global order, and import such a file.

An import appends into an empty ledger or one whose events are a prefix of the file. Before
anything is appended the whole file is checked: every envelope's stored bytes decode to the event
it names with the fields it shows, its chain link recomputes, and the events the ledger already
holds match the file's. The stored bytes are appended as they are, so the chain, and every view,
come out identical in the new store.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import msgspec

from jobledger.audit.eventlog import ENVELOPE_FORMAT, EventLog
from jobledger.domain.errors import LedgerChangedError, LedgerError
from jobledger.service.ledger import JobLedger
from jobledger.store.chain import GENESIS, link
from jobledger.store.reader import EventStore, Stored, Undecodable

BATCH = 1000
_decode_line = msgspec.json.Decoder().decode
_encode_line = msgspec.json.Encoder().encode


class ImportError_(LedgerError):
    """A file cannot be imported into this ledger; nothing was appended."""


def export(
    store: EventStore,
    out: IO[bytes],
    *,
    company: str | None = None,
    after: int = 0,
    progress: Callable[[int], None] | None = None,
    skipped: list[Undecodable] | None = None,
) -> int:
    """Write the events after a position (of one company, if given); return how many. An event
    that does not decode raises UndecodableEventError; with `skipped`, it is added there and
    left out of the file (which then, like a filtered one, cannot be imported)."""
    links = store.chain_rows(after)
    row = next(links, None)
    written = 0
    passed = 0  # how many of `skipped` the links have been moved past
    for entry in EventLog(store).entries(after, skipped=skipped):
        # Chain rows and events share positions; both come in position order.
        while skipped is not None and passed < len(skipped) and skipped[passed].position < entry.position:
            if row is not None and row[0] == skipped[passed].position:
                row = next(links, None)  # the link of an event left out
            passed += 1
        if row is None or row[0] != entry.position:
            raise LedgerChangedError(
                f"the event at position {entry.position} is not linked into the chain as stored"
            )
        if company is None or entry.company == company:
            out.write(_encode_line(entry.envelope(row[1], row[2])))
            out.write(b"\n")
            written += 1
        row = next(links, None)
        if progress is not None:
            progress(1)
    return written


@dataclass(frozen=True)
class _Checked:
    ordinal: int
    stored: Stored


def _envelopes(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                envelope = _decode_line(line)
            except msgspec.DecodeError as err:
                raise ImportError_(f"line {number} is not JSON: {err}") from None
            if not isinstance(envelope, dict) or envelope.get("format") != ENVELOPE_FORMAT:
                raise ImportError_(f"line {number} is not a {ENVELOPE_FORMAT} envelope")
            yield number, envelope


def _checked(ledger: JobLedger, number: int, envelope: dict[str, Any]) -> _Checked:
    try:
        stored = Stored(
            position=0,
            originator_id=UUID(envelope["originator_id"]),
            originator_version=int(envelope["originator_version"]),
            topic=str(envelope["topic"]),
            state=base64.b64decode(envelope["state"], validate=True),
        )
        ordinal = int(envelope["ordinal"])
        event = ledger.reader.decode(stored)
    except Exception as err:  # a malformed envelope can fail in many ways; report the line
        raise ImportError_(f"line {number}: the stored event cannot be read: {err}") from None
    fields = msgspec.to_builtins(event)
    for key in ("originator_id", "originator_version", "timestamp"):
        fields.pop(key, None)
    if type(event).__name__ != envelope.get("event") or fields != envelope.get("fields"):
        raise ImportError_(f"line {number}: the event's fields do not match its stored bytes")
    return _Checked(ordinal, stored)


def import_file(
    ledger: JobLedger, source: IO[bytes], *, progress: Callable[[int], None] | None = None
) -> int:
    """Check a whole export read from a stream, then append what the ledger lacks."""
    with tempfile.TemporaryDirectory() as folder:
        # Read twice (check, then append) without holding the file in memory; stdin can't be re-read.
        path = Path(folder) / "import.ndjson"
        with path.open("wb") as copy:
            shutil.copyfileobj(source, copy)
        return import_path(ledger, path, progress=progress)


def import_path(ledger: JobLedger, path: Path, *, progress: Callable[[int], None] | None = None) -> int:
    """Check a whole export file, then append what the ledger lacks; return how many were appended."""
    held = list(ledger.reader.chain_rows())
    start = _check(ledger, path, held)
    return _append(ledger, path, start, progress)


def count_lines(path: Path) -> int:
    """How many events a file holds (for a progress bar)."""
    with path.open("rb") as lines:
        return sum(1 for line in lines if line.strip())


def _check(ledger: JobLedger, path: Path, held: list[tuple[int, int, bytes]]) -> int:
    """Verify the file's chain and that the ledger is a prefix of it; the first ordinal to append."""
    previous: bytes | None = None
    expected_ordinal: int | None = None
    count = 0
    for number, envelope in _envelopes(path):
        checked = _checked(ledger, number, envelope)
        if expected_ordinal is None:
            if checked.ordinal < 1:
                raise ImportError_(f"line {number}: ordinal {checked.ordinal} is not a chain position")
            if checked.ordinal == 1:
                previous = GENESIS
            elif len(held) >= checked.ordinal - 1:
                previous = held[checked.ordinal - 2][2]
            else:
                raise ImportError_(
                    f"the file starts at position {checked.ordinal} but the ledger holds {len(held)} events;"
                    " import the earlier part first"
                )
        elif checked.ordinal != expected_ordinal:
            raise ImportError_(
                f"line {number}: position {checked.ordinal} follows {expected_ordinal - 1}; "
                "a filtered export (of one company) cannot be imported"
            )
        assert previous is not None
        s = checked.stored
        previous = link(previous, s.originator_id, s.originator_version, s.topic, s.state)
        if previous.hex() != envelope.get("link"):
            raise ImportError_(f"line {number}: the chain does not verify at position {checked.ordinal}")
        if checked.ordinal <= len(held) and held[checked.ordinal - 1][2] != previous:
            raise ImportError_(
                f"line {number}: the ledger's event at position {checked.ordinal} differs from the file's;"
                " import into an empty ledger"
            )
        expected_ordinal = checked.ordinal + 1
        count += 1
    if count == 0:
        raise ImportError_("the file holds no events")
    assert expected_ordinal is not None
    if len(held) > expected_ordinal - 1:
        raise ImportError_(
            f"the ledger holds {len(held)} events, more than the file's {expected_ordinal - 1}; "
            "its events are not a prefix of the file"
        )
    return len(held) + 1


def _append(ledger: JobLedger, path: Path, start: int, progress: Callable[[int], None] | None) -> int:
    batch: list[Stored] = []
    appended = 0
    for number, envelope in _envelopes(path):
        checked = _checked(ledger, number, envelope)
        if checked.ordinal < start:
            continue
        batch.append(checked.stored)
        if len(batch) >= BATCH:
            ledger.append_stored(batch)
            appended += len(batch)
            if progress is not None:
                progress(len(batch))
            batch = []
    if batch:
        ledger.append_stored(batch)
        appended += len(batch)
        if progress is not None:
            progress(len(batch))
    return appended
