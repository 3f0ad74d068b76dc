"""Waking a follower when the store may hold new events: LISTEN/NOTIFY on PostgreSQL, a poll on SQLite.

Every PostgreSQL append sends NOTIFY on the events table's channel in its transaction, so a
listener hears of a commit as it happens; SQLite has no such signal, so a follower reads again
after a short pause.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

# How often a SQLite follower reads again; how often a PostgreSQL listener looks at its stop flag.
POLL_SECONDS = 0.2
STOP_CHECK_SECONDS = 0.1


class Wakeups(Protocol):
    """Waits until new events may have been committed, or until asked to stop."""

    def wait(self, stop: threading.Event) -> bool:
        """Block until a commit may have happened (False) or `stop` is set (True)."""
        ...


class Polling:
    """No signal from the store: wake after a fixed pause."""

    def __init__(self, seconds: float = POLL_SECONDS) -> None:
        self.seconds = seconds

    def wait(self, stop: threading.Event) -> bool:
        """Wake after the pause, or as soon as `stop` is set."""
        return stop.wait(self.seconds)


class Listening:
    """A LISTEN on the events' channel, held on a connection of its own.

    Notifications that arrive while the follower reads are kept by the connection, so a commit
    made between a read and the next wait wakes that wait at once."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def wait(self, stop: threading.Event) -> bool:
        """Wake on the next NOTIFY (or one that came meanwhile), or once `stop` is set."""
        while not stop.is_set():
            for _ in self._connection.notifies(timeout=STOP_CHECK_SECONDS, stop_after=1):
                return False
        return True


@contextmanager
def wakeups_for(recorder: Any) -> Iterator[Wakeups]:
    """Listening for a PostgreSQL recorder (it names a NOTIFY channel), else Polling."""
    channel = getattr(recorder, "channel_name", None)
    datastore: Any = getattr(recorder, "datastore", None)
    if channel is None or not hasattr(datastore, "get_connection"):
        yield Polling()
        return
    from psycopg.sql import SQL, Identifier

    with datastore.get_connection() as connection:
        connection.execute(SQL("LISTEN {0}").format(Identifier(channel)))
        try:
            yield Listening(connection)
        finally:
            connection.execute(SQL("UNLISTEN {0}").format(Identifier(channel)))
