"""What to run next, added to an error's line: the library's errors say only what is wrong."""

from __future__ import annotations

from jobledger.domain.errors import (
    ClockSkewError,
    DamagedStoreError,
    InvalidTransitionError,
    LedgerChangedError,
    LedgerError,
    NoLedgerError,
    RuleError,
    UndecodableEventError,
    ViewsFileNeededError,
    ViewsMismatchError,
)
from jobledger.domain.payloads import PayloadError
from jobledger.domain.schedule import NotARunError, ScheduleOnlyError

DAMAGED_HINT = (
    "; restore it from a backup, or see what can still be read with `jobledger audit verify`"
    " and `jobledger export`"
)


def hint(err: LedgerError, *, served: bool = False) -> str:
    """What the CLI adds to the error's line (the command to run), or nothing; `served`: the
    command went to a server (whose own settings then apply)."""
    match err:
        case ClockSkewError() if served:
            return "; check the clock that gave --at (the server's JOBLEDGER_MAX_CLOCK_SKEW sets the limit)"
        case ClockSkewError():
            return "; check the clock that gave --at, or set JOBLEDGER_MAX_CLOCK_SKEW (seconds)"
        case DamagedStoreError():
            return DAMAGED_HINT
        case NoLedgerError():
            return "; submit a job or run `jobledger demo` first"
        case ViewsFileNeededError():
            return ": give --views FILE or set JOBLEDGER_VIEWS"
        case ViewsMismatchError():
            return "; give a different --views file"
        case UndecodableEventError():
            return "; run `jobledger audit verify` to see whether the ledger was changed"
        case LedgerChangedError():
            return "; run `jobledger audit verify` to see where the ledger was changed"
        case ScheduleOnlyError(verb="pause" | "resume"):
            return "; `jobledger stop` stops a run"
        case NotARunError():
            return f"; its runs are listed by `jobledger active --original-name {err.original_name}`"
        case InvalidTransitionError(state="New", action="report progress on"):
            return " with `jobledger start`"
        case PayloadError():
            return "; `jobledger kinds` lists the payload kinds and their fields"
        # The log type rules raise plain RuleErrors; their message is the only mark they carry.
        case RuleError() if "unknown log type" in str(err):
            return "; `jobledger log-types` lists them"
    return ""


def with_hint(err: LedgerError, *, served: bool = False) -> str:
    """The error's line, with the command to run where there is one."""
    return f"{err}{hint(err, served=served)}"
