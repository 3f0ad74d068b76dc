"""The `jobledger` console script: the command group, and which module registers each command.

A command's module is imported only when that command runs (or its own --help is asked), so a
read does not load what writes, audits or the demo need; `jobledger --help` lists the commands
from the first paragraph of each one's help, kept here. tests/integration/test_startup.py checks
this table against the commands the modules register: a new command needs its line here.
"""

from __future__ import annotations

from jobledger.cli.group import cli

COMMANDS: dict[str, tuple[str, str]] = {
    "active": (
        "views",
        "List runs not yet Done (getActiveJobs), with progress and ETA; stalled runs are marked.",
    ),
    "asset-logs": ("views", "List every job-log row that names one asset (getAssetJobLogs)."),
    "audit": ("audit", "Prove the history was not rewritten: the hash chain's head, and its verification."),
    "complete": ("jobs", "End a running job and print its outcome."),
    "delete": ("jobs", "Delete a run (a live one is stopped first) or a schedule. Its history is kept."),
    "demo": ("demo", "Fill a new ledger with a realistic, reproducible day of jobs and summarise it."),
    "details": ("views", "Show one run's job log with its detail rows (getJobLogDetails)."),
    "events": ("audit", "Print events in global order with their positions."),
    "execute": ("jobs", "Run a schedule's job now and print the new run's handle; the trigger is unchanged."),
    "export": (
        "audit",
        "Write events as NDJSON envelopes in global order (position, ids, event, fields, chain link).",
    ),
    "history": ("jobs", "Print every event of a job in order: name, version, time and fields."),
    "kinds": ("vocab", "List the payload kinds `submit --type` takes, their job types and their fields."),
    "import": ("audit", "Append an export to an empty ledger, or one whose events are a prefix of it."),
    "log": ("jobs", "Write one row to a live job's log."),
    "log-types": (
        "vocab",
        "List the Job Log Types `log --log-type` takes (IPS's misspellings too, with what they mean).",
    ),
    "logs": ("views", "List job-log summaries, one per run (getJobLogs); deleted runs are marked."),
    "pause": ("jobs", "Pause a schedule: it does not fire until resumed (runs cannot be paused; stop them)."),
    "progress": ("jobs", "Report how far a running job has got, overall and per task."),
    "projections": ("views", "Inspect, catch up, run, rebuild and verify the views."),
    "resume": ("jobs", "Resume a paused schedule; a fire time missed meanwhile fires once at the next tick."),
    "scheduled": ("schedules", "List schedules that may still fire, Normal or Paused (getScheduledJobs)."),
    "scheduler": ("schedules", "Fire due schedules: once (tick) or continuously (run)."),
    "serve": ("serve", "Serve the ledger over HTTP: the only writer of its ledger, with group commit."),
    "show": ("jobs", "Print a run's or schedule's state, now or as it was (IPS field names, plus outcome)."),
    "start": ("jobs", "Mark a submitted job as running on SERVER."),
    "stop": ("jobs", "Ask a New or Running job to stop (a New one ends at once)."),
    "submit": (
        "jobs",
        "Submit a job and print its handle: a run now, or a schedule with --exec-time/--exec-schedule.",
    ),
    "tokens": ("tokens", "Create, list and revoke the bearer tokens `jobledger serve` accepts."),
    "wait": ("audit", "Block until a run is Done and print its final state."),
}

cli.lazy_commands = {name: (f"jobledger.cli.{module}", text) for name, (module, text) in COMMANDS.items()}

__all__ = ["COMMANDS", "cli"]
