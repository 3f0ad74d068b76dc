"""The PostgreSQL recorder, linking each batch into the hash chain (a table of its own) as it inserts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier

from .chain import ChainRow, continue_chain, uuid_bytes


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
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{table} ("
                "position bigint PRIMARY KEY, ordinal bigint NOT NULL UNIQUE, link bytea NOT NULL)"
            ).format(schema=self.schema, table=self.chain_table)
        )

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs) or []
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
        return positions

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
