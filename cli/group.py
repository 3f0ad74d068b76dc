"""The `jobledger` command group: global settings and turning ledger errors into one-line messages.

The command modules register on `cli` here; cli/main.py names them, and each is imported when one
of its commands runs (LedgerGroup.get_command), so none imports cli/main.py back."""

from __future__ import annotations

import importlib
import os
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from jobledger.cli.terminal import no_colour_option
from jobledger.domain.errors import LedgerError

if TYPE_CHECKING:  # the ledger, the views and the library load only for commands that use them
    from jobledger.client import Client
    from jobledger.projections.runner import Projector
    from jobledger.service.ledger import JobLedger

DEFAULT_DB = "jobledger.db"


class Config:
    """Settings from the group's options; commands open the ledger themselves."""

    def __init__(
        self,
        db: str,
        views: str | None,
        server: str | None = None,
        token: str | None = None,
        *,
        server_from: str = "--server",
    ) -> None:
        self.db = db
        self.views = views
        self.server = server or None
        self.token = token or None
        self.server_from = server_from  # what chose the server: --server or JOBLEDGER_SERVER
        self._ledger: JobLedger | None = None
        self._client: Client | None = None
        # Said on stderr once the command has succeeded; a failure's one line says enough.
        self.notices: list[str] = []

    def named_db(self, db: str | None) -> None:
        """A --db given on the command line (`jobledger --db X`, `serve --db X`): it wins over
        JOBLEDGER_SERVER, and with --server it names a second ledger (a usage error)."""
        if db is None:
            return
        if self.server is not None:
            if self.server_from == "--server":
                raise click.UsageError("--db and --server name two ledgers: give one of them")
            self.server = None
        self.db = db

    def jobs(self, *, create: bool = False) -> JobLedger | Client:
        """What commands and state reads go to: the server with --server, else the ledger."""
        return self.client() if self.server is not None else self.ledger(create=create)

    def client(self) -> Client:
        """The server's client (with --server), opened once per command."""
        if self._client is None:
            from jobledger.client import Client

            assert self.server is not None
            self._client = Client(self.server, self.token)
            click.get_current_context().call_on_close(self._client.close)
        return self._client

    def refuse_server(self) -> None:
        """Refuse a command that works on the ledger's file itself when a server is chosen, in one line
        and before any file is made, whether --server or JOBLEDGER_SERVER chose it."""
        if self.server is not None:
            command = click.get_current_context().command_path.partition(" ")[2]  # (after the program)
            if command.startswith("scheduler"):
                raise click.UsageError(
                    f"`{command}` is not needed with {self.server_from}: the server fires its ledger's"
                    " schedules itself, every second"
                )
            raise click.UsageError(
                f"`{command}` works on the ledger itself: run it on the server's host,"
                f" without {self.server_from}"
            )

    def ledger(self, *, create: bool = False) -> JobLedger:
        """The ledger, opened once per command; only commands that write may create a new one."""
        self.refuse_server()
        if self._ledger is None:
            from jobledger.cli.options import max_clock_skew
            from jobledger.service.ledger import JobLedger

            self._ledger = JobLedger(self.db, create=create, max_clock_skew=max_clock_skew())
        return self._ledger

    def projector(self) -> Projector:
        """The views of the ledger (which must exist), ready to catch up and query."""
        from jobledger.service.opening import open_projector

        return open_projector(self.ledger(), self.views)


pass_config = click.make_pass_decorator(Config)


class LedgerGroup(click.Group):
    """Reports every error as one `Error: ...` line on stderr, never as a traceback.

    Ledger errors exit 1; usage errors exit 2 (click would print three lines of usage first).
    Commands load lazily: cli/main.py names the module that registers each one, with the first
    paragraph of its help for the command list, so a command imports only what it uses (a read
    on SQLite never loads the PostgreSQL driver) and `jobledger --help` imports no command at all.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, tuple[str, str]] = {}  # name -> (module, first paragraph of its help)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            importlib.import_module(self.lazy_commands[cmd_name][0])  # it registers itself on `cli`
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # As click's, but a command not loaded yet is listed from its entry in lazy_commands.
        listed = [(name, self._for_listing(name)) for name in self.list_commands(ctx)]
        listed = [(name, command) for name, command in listed if not command.hidden]
        if listed:
            limit = formatter.width - 6 - max(len(name) for name, _ in listed)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in listed])

    def _for_listing(self, name: str) -> click.Command:
        """The command if it is loaded, else a stand-in carrying its help."""
        if name in self.commands:
            return self.commands[name]
        return click.Command(name, help=self.lazy_commands[name][1])

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
            result = super().invoke(ctx)
            config = ctx.find_object(Config)
            for notice in config.notices if config else ():
                click.echo(notice, err=True)
            return result
        except BrokenPipeError:
            # The reader went away (`jobledger logs | head -1`): stop quietly with 0, as Unix
            # tools do; click would exit 1, and the flush at exit would fail again.
            _discard_stdout()
            sys.exit(0)
        except LedgerError as err:
            from jobledger.cli.hints import with_hint

            config = ctx.find_object(Config)
            served = config is not None and config.server is not None
            raise click.ClickException(with_hint(err, served=served)) from None
        except sqlite3.Error as err:  # the views file (or the ledger file, which holds them) failed
            from jobledger.cli.hints import DAMAGED_HINT
            from jobledger.store.config import is_damage, sqlite_problem

            config = ctx.find_object(Config)
            path = (config.views or config.db) if config else "the database"
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            advice = DAMAGED_HINT if is_damage(first) else ""
            raise click.ClickException(
                f"cannot use {path}: {sqlite_problem(Path(path), first)}{advice}"
            ) from None
        except Exception as err:
            # Only a command that opened the store can have loaded the library and raised its error.
            persistence = sys.modules.get("eventsourcing.persistence")
            if persistence is None or not isinstance(err, persistence.PersistenceError):
                raise
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise click.ClickException(f"the event store failed: {first}") from None


def _discard_stdout() -> None:
    """Point standard output at /dev/null, so that what is still buffered goes nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor (a test's captured stream)
        pass


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
@click.option(
    "--server",
    "server_url",
    envvar="JOBLEDGER_SERVER",
    default=None,
    help="Send commands and queries to a `jobledger serve` at this URL instead of opening --db.",
)
@click.option(
    "--token",
    envvar="JOBLEDGER_TOKEN",
    default=None,
    help="Bearer token for --server (default: $JOBLEDGER_TOKEN).",
)
@no_colour_option
@click.version_option(package_name="jobledger")
@click.pass_context
def cli(ctx: click.Context, db: str, views: str | None, server_url: str | None, token: str | None) -> None:
    """jobledger: an event-sourced ledger of server jobs (IPS job model)."""
    from_env = ctx.get_parameter_source("server_url") is click.core.ParameterSource.ENVIRONMENT
    config = ctx.obj = Config(
        db=db,
        views=views or os.environ.get("JOBLEDGER_VIEWS"),
        server=server_url,
        token=token,
        server_from="JOBLEDGER_SERVER" if from_env else "--server",
    )
    if ctx.get_parameter_source("db") is click.core.ParameterSource.COMMANDLINE:
        config.named_db(db)  # (a ledger named on the command line, as a command's own --db is)
