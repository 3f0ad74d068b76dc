"""Start-up (issue 11, D): a command loads only its own module, a read on SQLite never loads the
PostgreSQL driver, and `jobledger --help` lists every command without loading any of them."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys

import click
import pytest
from cli_support import submit
from samples import OPTIMIZE

import jobledger.cli
from jobledger.cli.main import COMMANDS, cli

_LOADED = """
import json, sys
from jobledger.cli.main import cli
try:
    cli(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _modules_loaded_by(*args: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running `jobledger ARGS`."""
    done = subprocess.run(
        [sys.executable, "-c", _LOADED, *args], capture_output=True, text=True, check=True, timeout=120
    )
    loaded: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return set(loaded)


def _postgres(modules: set[str]) -> set[str]:
    return {
        m for m in modules if m.split(".")[0] in ("psycopg", "psycopg_pool") or m == "eventsourcing.postgres"
    }


@pytest.fixture(scope="module")
def small_ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    db = str(tmp_path_factory.mktemp("startup") / "ledger.db")
    handle = submit(db, payload=OPTIMIZE)
    return db, handle


@pytest.mark.parametrize(
    "command",
    [["active"], ["logs"], ["show", "{h}"], ["history", "{h}"], ["events"], ["audit", "verify"], ["export"]],
    ids=lambda command: "-".join(command).replace("{h}", "H"),
)
def test_a_read_command_on_sqlite_loads_neither_psycopg_nor_the_librarys_postgresql_module(
    small_ledger: tuple[str, str], command: list[str]
) -> None:
    db, handle = small_ledger

    loaded = _modules_loaded_by("--db", db, *(word.format(h=handle) for word in command))

    assert "jobledger.store.sqlite_recorder" in loaded  # the command did open the ledger
    assert _postgres(loaded) == set()


def test_help_lists_the_commands_without_loading_them_or_the_library() -> None:
    loaded = _modules_loaded_by("--help")

    assert {
        m for m in loaded if m.startswith(("eventsourcing", "sqlite_utils", "croniter", "msgspec"))
    } == set()
    assert {m for m in loaded if m.startswith("jobledger.")} <= {"jobledger.cli", "jobledger.cli.group"} | {
        "jobledger.cli.main",
        "jobledger.cli.terminal",  # the group's --no-color option: os, shutil, sys and click only
        "jobledger.domain",
        "jobledger.domain.errors",
    }


def test_the_command_table_names_every_command_its_module_and_its_help() -> None:
    for module in pkgutil.iter_modules(jobledger.cli.__path__):
        importlib.import_module(f"jobledger.cli.{module.name}")  # each registers its commands

    registered = {
        name: (command.callback.__module__.rsplit(".", 1)[1] if command.callback else "", command.help or "")
        for name, command in cli.commands.items()
    }

    assert sorted(registered) == sorted(COMMANDS), "cli/main.py's COMMANDS must name every command"
    for name, (module, text) in registered.items():
        assert COMMANDS[name] == (module, " ".join(text.partition("\n\n")[0].split())), name


_LISTING = """
import click, sys
from jobledger.cli.main import cli
formatter = click.HelpFormatter(width=100)
cli.format_commands(click.Context(cli), formatter)
assert "jobledger.cli.jobs" not in sys.modules
print(formatter.getvalue(), end="")
"""


def test_help_lists_the_commands_as_the_loaded_commands_would() -> None:
    lazy = subprocess.run(
        [sys.executable, "-c", _LISTING], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    for module in pkgutil.iter_modules(jobledger.cli.__path__):
        importlib.import_module(f"jobledger.cli.{module.name}")
    eager = click.Group(commands=cli.commands)
    formatter = click.HelpFormatter(width=100)
    eager.format_commands(click.Context(eager), formatter)

    assert lazy == formatter.getvalue()
