"""The `jobledger` command group: global settings and turning ledger errors into one-line messages."""

from __future__ import annotations

import os
from typing import Any

import click
from eventsourcing.persistence import PersistenceError
from jobledger.domain.errors import LedgerError
from jobledger.domain.ledger import JobLedger
from jobledger.projections import open_projector
from jobledger.projections.runner import Projector

DEFAULT_DB = "jobledger.db"


class Config:
    """Settings from the group's options; commands open the ledger themselves."""

    def __init__(self, db: str, views: str | None) -> None:
        self.db = db
        self.views = views

    def ledger(self, *, create: bool = False) -> JobLedger:
        """Open the ledger; only commands that write may create a new one."""
        return JobLedger(self.db, create=create)

    def projector(self) -> Projector:
        """The views of the ledger (which must exist), ready to catch up and query."""
        return open_projector(self.ledger(), self.views)


pass_config = click.make_pass_decorator(Config)


class LedgerGroup(click.Group):
    """Reports ledger errors as `Error: ...` on stderr with exit 1, never as a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LedgerError as err:
            raise click.ClickException(str(err)) from None
        except PersistenceError as err:
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise click.ClickException(f"the event store failed: {first}") from None


@click.group(cls=LedgerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    envvar="JOBLEDGER_DB",
    default=DEFAULT_DB,
    show_default=True,
    help="Event store: an SQLite file path, or a postgresql://user@host:port/dbname URL.",
)
@click.option(
    "--views",
    envvar="JOBLEDGER_VIEWS",
    default=None,
    help="SQLite file for the views; required when the store is PostgreSQL (default: the ledger file).",
)
@click.version_option(package_name="jobledger")
@click.pass_context
def cli(ctx: click.Context, db: str, views: str | None) -> None:
    """jobledger: an event-sourced ledger of server jobs (IPS job model)."""
    ctx.obj = Config(db=db, views=views or os.environ.get("JOBLEDGER_VIEWS"))


# Importing the command modules registers their commands on `cli`.
from jobledger.cli import jobs, schedules, views  # noqa: E402

__all__ = ["cli", "jobs", "schedules", "views"]
