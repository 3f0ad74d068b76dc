"""`events` against a server: its NDJSON pages, then (to follow) its live SSE stream, followed
through the server's restarts and outages from the last position shown, each event once."""

from __future__ import annotations

import queue
import sys
import threading
from typing import TYPE_CHECKING, Any

import click
import msgspec

from jobledger.audit.eventlog import EVENT_NAMES
from jobledger.cli import terminal
from jobledger.cli.render import emit_ndjson, emit_table
from jobledger.cli.timefmt import when

if TYPE_CHECKING:  # the client loads only when `events` goes to a server
    from jobledger.client import Client, ServerUnavailableError
    from jobledger.client.connection import EventStream

# Events are printed in batches as they are read (and as they arrive with --follow): fixed
# minimum widths keep every batch's columns under the one header.
EVENT_WIDTHS = {"position": 8, "time": 19, "event": max(map(len, EVENT_NAMES)), "handle": 48, "v": 3}

STREAM_RETRY_S = 1.0  # before following again a stream the server ended (it may be restarting)
RETRY_FIRST_S = 0.5  # after a first try that found no server; doubled after each one that fails,
NO_RUN_RETRY_S = 1.0  # following the events of a run not there yet: how often to look again
RETRY_MAX_S = 3.0  # up to this: a server back after a long outage is found within a few seconds
STOP_CHECK_S = 0.2  # how often a follow looks at SIGINT/SIGTERM while no event comes

Params = dict[str, Any]


def print_records(records: list[dict[str, Any]], fmt: str, *, header: bool = True) -> None:
    """Print event records (as the API gives them) as NDJSON, or as table rows."""
    if fmt == "ndjson":
        emit_ndjson(records)
    else:
        rows = [
            {
                "position": r["position"],
                "time": when(r["timestamp"]),
                "event": r["event"],
                "handle": r["handle"],
                "v": r["version"],
            }
            for r in records
        ]
        if rows:
            columns = ["position", "time", "event", "handle", "v"]
            emit_table(rows, columns, header=header, widths=EVENT_WIDTHS, count=False)
    sys.stdout.flush()


def warn_no_run(handle: str, follow: bool) -> None:
    """On a terminal, say on stderr that `events --job` names no run or schedule (a typo would
    otherwise print nothing, or wait without end)."""
    if terminal.stdout_is_terminal():
        waits = ": waiting for its events" if follow else ""
        click.echo(f"Warning: no run or schedule {handle!r} in this ledger{waits}", err=True)


class Printed:
    """What a remote `events` has printed: how many, and the position of the last."""

    def __init__(self, fmt: str, after: int, limit: int | None) -> None:
        self.fmt = fmt
        self.after = after
        self.limit = limit
        self.shown = 0

    @property
    def done(self) -> bool:
        """Whether --limit events are shown."""
        return self.limit is not None and self.shown >= self.limit

    def show(self, records: list[dict[str, Any]]) -> None:
        """Print records (up to the limit) and move on past them."""
        if self.limit is not None:
            records = records[: self.limit - self.shown]
        if records:
            print_records(records, self.fmt, header=not self.shown)
            self.shown += len(records)
            self.after = int(records[-1]["position"])


class Outage:
    """Says once on stderr that the server was lost and once that it is back; the waits between."""

    def __init__(self) -> None:
        self.wait_s: float | None = None  # None while the server answers

    def failed(self, err: ServerUnavailableError) -> float:
        """A try found no server: the seconds to wait before the next."""
        if self.wait_s is None:
            click.echo(f"warning: lost the server: {err}; trying again until it is back", err=True)
            self.wait_s = RETRY_FIRST_S
        else:
            self.wait_s = min(self.wait_s * 2, RETRY_MAX_S)
        return self.wait_s

    def reached(self, url: str, after: int) -> None:
        """The server answered again."""
        if self.wait_s is not None:
            click.echo(f"the server at {url} is back: following on after position {after}", err=True)
            self.wait_s = None


def remote_events(
    client: Client, base: Params, printed: Printed, follow: bool, stop: threading.Event
) -> None:
    """Print the events after `printed.after` (with `base`'s filters), then, to follow, the live
    ones until `stop` is set or the limit is reached. A server that cannot be reached at first is
    an error, as for any other command; one lost while following is waited for."""
    from jobledger.client import ServerUnavailableError
    from jobledger.domain.errors import UnknownHandleError

    first = True
    while not printed.done:
        remaining = None if printed.limit is None else printed.limit - printed.shown
        try:
            text = client.get_text("/v1/events", {**base, "after": printed.after, "limit": remaining})
        except ServerUnavailableError:
            if first or not follow:
                raise
            break  # the stream below goes on from the last position
        except UnknownHandleError:
            # A run that is not there (or not the token's company's) has no events to print, as
            # on the ledger's file; following, its events are waited for.
            if not base.get("jobHandle"):
                raise
            warn_no_run(base["jobHandle"], follow)
            break
        first = False
        records = [msgspec.json.decode(line) for line in text.splitlines() if line]
        printed.show(records)
        if not records:
            break
    outage = Outage()
    while follow and not printed.done and not stop.is_set():
        try:
            stream = client.event_stream({**base, "after": printed.after})
        except ServerUnavailableError as err:
            stop.wait(outage.failed(err))
            continue
        except UnknownHandleError:
            if not base.get("jobHandle"):
                raise
            stop.wait(NO_RUN_RETRY_S)  # the run is not there yet
            continue
        outage.reached(client.url, printed.after)
        _print_stream(stream, printed, stop)
        if not printed.done:
            stop.wait(STREAM_RETRY_S)  # the server ended the stream: it is stopping, or restarting


def _print_stream(stream: EventStream, printed: Printed, stop: threading.Event) -> None:
    """Print a live stream's events until it ends, `stop` is set or the limit is reached."""
    arrived: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def read() -> None:
        for data in stream:
            arrived.put(msgspec.json.decode(data))
        arrived.put(None)

    reader = threading.Thread(target=read, name="jobledger-events", daemon=True)
    reader.start()
    try:
        ended = False
        while not ended and not stop.is_set() and not printed.done:
            try:
                records = [arrived.get(timeout=STOP_CHECK_S)]
            except queue.Empty:
                continue
            while not arrived.empty():
                records.append(arrived.get_nowait())
            ended = records[-1] is None
            printed.show([record for record in records if record is not None])
    finally:
        stream.close()
        reader.join()
