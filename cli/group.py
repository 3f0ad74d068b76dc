"""The `jobledger` command group: global settings and turning ledger errors into one-line messages.

The command modules register on `cli` here; cli/main.py imports them all, so none imports it back."""

from __future__ import annotations

import os
import sys
from typing import Any

import click
from eventsourcing.persistence import PersistenceError

from jobledger.cli.hints import with_hint
from jobledger.cli.options import max_clock_skew
from jobledger.domain.errors import LedgerError
from jobledger.projections.runner import Projector
from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector

DEFAULT_DB = "jobledger.db"


class Config:
    """Settings from the group's options; commands open the ledger themselves."""

    def __init__(self, db: str, views: str | None) -> None:
        self.db = db
        self.views = views
        self._ledger: JobLedger | None = None

    def ledger(self, *, create: bool = False) -> JobLedger:
        """The ledger, opened once per command; only commands that write may create a new one."""
        if self._ledger is None:
            self._ledger = JobLedger(self.db, create=create, max_clock_skew=max_clock_skew())
        return self._ledger

    def projector(self) -> Projector:
        """The views of the ledger (which must exist), ready to catch up and query."""
        return open_projector(self.ledger(), self.views)


pass_config = click.make_pass_decorator(Config)


class LedgerGroup(click.Group):
    """Reports every error as one `Error: ...` line on stderr, never as a traceback.

    Ledger errors exit 1; usage errors exit 2 (click would print three lines of usage first).
    """

    def main(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("standalone_mode", True):
            return super().main(*args, **kwargs)
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as err:
            err.show()
            sys.exit(err.exit_code)
        except click.UsageError as err:
            hint = f" (see '{err.ctx.command_path} --help')" if err.ctx else ""
            click.echo(f"Error: {err.format_message()}{hint}", err=True)
            sys.exit(err.exit_code)
        except click.ClickException as err:
            err.show()
            sys.exit(err.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        # Without standalone mode click returns an exit code from ctx.exit(), else the result.
        sys.exit(result if isinstance(result, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LedgerError as err:
            raise click.ClickException(with_hint(err)) from None
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
