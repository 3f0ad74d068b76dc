"""The `jobledger` console script: the command group with every command module registered on it."""

from __future__ import annotations

# Importing the command modules registers their commands on `cli`.
from jobledger.cli import audit, demo, jobs, schedules, views, vocab
from jobledger.cli.group import cli

__all__ = ["audit", "cli", "demo", "jobs", "schedules", "views", "vocab"]
