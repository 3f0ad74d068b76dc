"""The PostgreSQL recorder, linking each batch into the hash chain (a table of its own) as it inserts."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
import psycopg.errors
from eventsourcing.persistence import OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Composed, Identifier

from .chain import ChainRow, continue_chain, uuid_bytes

# Stored bytes sent in one INSERT. psycopg's pipeline mode waits forever on one very large
# parameter (an 8 MB array hung while 2-5 MB returned), and the library sends a whole batch as one.
PIECE_BYTES = 1 << 20
# A writer that waits this long for the table lock, or whose statement runs this long, fails
# (one line, nothing appended) instead of stalling every writer queued behind it.
LOCK_TIMEOUT_S = 30
STATEMENT_TIMEOUT_S = 120


class WriterTimeoutError(OperationalError):
    """A write gave up waiting for the events table's lock, or ran past the statement timeout."""


def pieces(stored_events: Sequence[StoredEvent], size: int = PIECE_BYTES) -> Iterator[Sequence[StoredEvent]]:
    """The batch cut into runs of at most `size` stored bytes (an event larger than that alone)."""
    start, total = 0, 0
    for index, stored in enumerate(stored_events):
        total += len(stored.state) + 64  # the id, version and topic travel with it
        if total > size and index > start:
            yield stored_events[start:index]
            start, total = index, len(stored.state) + 64
    if start < len(stored_events):
        yield stored_events[start:]


def chain_rows(
    previous: tuple[int, bytes] | None, positions: Sequence[int], stored_events: Sequence[StoredEvent]
) -> list[ChainRow]:
    """Chain rows for newly stored events, continuing from the last (ordinal, link)."""
    events = [(s.originator_id, s.originator_version, s.topic, s.state) for s in stored_events]
    return continue_chain(previous, positions, events, uuid_bytes)


class ChainedPostgresApplicationRecorder(PostgresApplicationRecorder):
    """The PostgreSQL recorder, linking each batch into the hash chain in its own transaction.

    The stock recorder holds an EXCLUSIVE lock on the events table while it inserts, so reading the
    last link and writing the next ones cannot interleave with another writer.
    """

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.chain_table = Identifier(f"{self.events_table_name}_chain")
        self.schema = Identifier(self.datastore.schema)
        name = f"jobledger:{self.datastore.schema}.{self.events_table_name}".encode()
        self.advisory_key = int.from_bytes(hashlib.sha256(name).digest()[:8], "big", signed=True)
        self.write_statements: list[Composed] = [
            SQL("SET LOCAL lock_timeout = '{0}s'").format(LOCK_TIMEOUT_S),
            SQL("SET LOCAL statement_timeout = '{0}s'").format(STATEMENT_TIMEOUT_S),
            SQL("LOCK TABLE {0}.{1} IN EXCLUSIVE MODE").format(
                self.schema, Identifier(self.events_table_name)
            ),
            SQL("NOTIFY {0}").format(Identifier(self.channel_name)),
        ]
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{table} ("
                "position bigint PRIMARY KEY, ordinal bigint NOT NULL UNIQUE, link bytea NOT NULL)"
            ).format(schema=self.schema, table=self.chain_table)
        )

    @contextmanager
    def serialized(self, *, shared: bool = False) -> Iterator[None]:
        """Hold this ledger's advisory lock (session level, on a connection of its own) while the
        body runs: exclusive for a writer's turn, shared for a first try that must queue behind
        the turns already asked for (PostgreSQL grants the lock in the order it was asked)."""
        mode = "_shared" if shared else ""
        with self.datastore.get_connection() as conn:
            conn.execute(f"SELECT pg_advisory_lock{mode}(%s)", (self.advisory_key,))
            try:
                yield
            finally:
                conn.execute(f"SELECT pg_advisory_unlock{mode}(%s)", (self.advisory_key,))

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """Insert and link a batch in one transaction under the table lock; its positions.

        A batch that fits one piece is pipelined (one round trip, as the library does); a larger
        one goes in pieces of PIECE_BYTES, outside pipeline mode, in the same transaction."""
        if not stored_events:
            return []
        parts = list(pieces(stored_events))
        try:
            if len(parts) == 1:
                return self._insert_pipelined(stored_events)
            return self._insert_in_pieces(parts, stored_events)
        except OperationalError as err:
            cause = err.__cause__
            if isinstance(cause, psycopg.errors.LockNotAvailable):
                raise WriterTimeoutError(
                    f"another writer held the events table for more than {LOCK_TIMEOUT_S} s"
                ) from err
            if isinstance(cause, psycopg.errors.QueryCanceled):
                raise WriterTimeoutError(f"an append ran for more than {STATEMENT_TIMEOUT_S} s") from err
            raise

    def _insert_pipelined(self, stored_events: Sequence[StoredEvent]) -> list[int]:
        failure: Exception | None = None
        positions: list[int] = []
        with self.datastore.get_connection() as conn:
            with conn.pipeline() as pipeline, conn.transaction(), conn.cursor() as curs:
                try:
                    for statement in self.write_statements:
                        curs.execute(statement, prepare=True)
                    curs.execute(self.insert_events_statement, (self._pg_events(stored_events),))
                    # A uniqueness violation surfaces here as an IntegrityError, not at COMMIT.
                    pipeline.sync()
                    positions = [row["notification_id"] for row in curs.fetchall()]
                    self._link(curs, positions, stored_events)
                except Exception as err:  # raised once the pipeline has closed, as the library does
                    failure = err
            if failure is not None:
                raise failure
        return positions

    def _insert_in_pieces(
        self, parts: list[Sequence[StoredEvent]], stored_events: Sequence[StoredEvent]
    ) -> list[int]:
        positions: list[int] = []
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            for statement in self.write_statements:
                curs.execute(statement)
            for part in parts:
                curs.execute(self.insert_events_statement, (self._pg_events(part),))
                positions.extend(row["notification_id"] for row in curs.fetchall())
            self._link(curs, positions, stored_events)
        return positions

    def _pg_events(self, stored_events: Sequence[StoredEvent]) -> list[Any]:
        construct = self.construct_pg_stored_event
        return [construct(s.originator_id, s.originator_version, s.topic, s.state) for s in stored_events]

    def _link(self, curs: Any, positions: Sequence[int], stored_events: Sequence[StoredEvent]) -> None:
        """Write the chain rows of newly inserted events, continuing from the chain's head."""
        curs.execute(
            SQL("SELECT ordinal, link FROM {schema}.{table} ORDER BY position DESC LIMIT 1").format(
                schema=self.schema, table=self.chain_table
            )
        )
        row = curs.fetchone()
        previous = (row["ordinal"], bytes(row["link"])) if row else None
        curs.executemany(
            SQL("INSERT INTO {schema}.{table} (position, ordinal, link) VALUES (%s, %s, %s)").format(
                schema=self.schema, table=self.chain_table
            ),
            chain_rows(previous, positions, stored_events),
        )

    def count_events(self) -> int:
        """How many events are stored."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT COUNT(*) AS n FROM {schema}.{table}").format(
                    schema=self.schema, table=Identifier(self.events_table_name)
                )
            )
            row = curs.fetchone()
            assert row is not None
            return int(row["n"])

    def last_chain_row(self) -> ChainRow | None:
        """The head of the chain."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL(
                    "SELECT position, ordinal, link FROM {schema}.{table} ORDER BY position DESC LIMIT 1"
                ).format(schema=self.schema, table=self.chain_table)
            )
            row = curs.fetchone()
            return (row["position"], row["ordinal"], bytes(row["link"])) if row else None

    def select_chain(self, after: int, limit: int) -> list[ChainRow]:
        """Chain rows after a position, in order."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL(
                    "SELECT position, ordinal, link FROM {schema}.{table} WHERE position > %s "
                    "ORDER BY position LIMIT %s"
                ).format(schema=self.schema, table=self.chain_table),
                (after, limit),
            )
            return [(row["position"], row["ordinal"], bytes(row["link"])) for row in curs.fetchall()]

    def select_stored_of(self, originator_id: UUID, limit: int) -> list[tuple[int, str, int, str, bytes]]:
        """The first stored events of an aggregate: (position, id as hex, version, topic, state)."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL(
                    "SELECT notification_id, originator_id, originator_version, topic, state"
                    " FROM {schema}.{table} WHERE originator_id = %s ORDER BY originator_version LIMIT %s"
                ).format(schema=self.schema, table=Identifier(self.events_table_name)),
                (originator_id, limit),
            )
            return [
                (
                    r["notification_id"],
                    r["originator_id"].hex,
                    r["originator_version"],
                    r["topic"],
                    bytes(r["state"]),
                )
                for r in curs.fetchall()
            ]
