"""Domain and store errors. Each message is one line that says what is wrong.

They carry no shell advice: a Python caller has no `jobledger` command to run. The CLI adds the
command to run, keyed by the error's type (cli/hints.py); the attributes here are what it needs.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error the ledger reports to a user."""


class RuleError(LedgerError):
    """A request broke a rule of the domain; nothing was appended."""


class InvalidTransitionError(RuleError):
    """A command does not apply in the job's current state."""

    def __init__(self, handle: str, state: str, action: str, hint: str = "") -> None:
        self.handle, self.state, self.action = handle, state, action
        message = f"cannot {action} job {handle}: it is {state}"
        super().__init__(f"{message}; {hint}" if hint else message)


class NotRecordedError(RuleError):
    """A command of an all-or-none request (a runner's array of log rows) that was not recorded
    because another command of the same request failed."""

    def __init__(self, failed: int) -> None:
        self.failed = failed  # the place of the command that failed, in its request
        super().__init__(f"not recorded: command {failed + 1} of the same request failed")


class UnknownHandleError(LedgerError):
    """No job or schedule has this handle (or not for the given company)."""

    def __init__(self, handle: str, company: str | None = None) -> None:
        where = f" for company {company}" if company else ""
        super().__init__(f"no job with handle {handle!r}{where}")


class IdempotencyConflictError(RuleError):
    """An idempotency key was reused with a different request."""


class ConcurrencyError(LedgerError):
    """Another writer kept changing the job while this command retried."""


class UndecodableEventError(LedgerError, ValueError):
    """A stored event's bytes do not decode: the store was changed outside the ledger, or by a
    newer version of jobledger."""

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message  # why, without where: what the views' quarantine records


class StoreError(LedgerError):
    """The event store cannot be opened or used (bad path, not a ledger, unreachable server)."""


class DamagedStoreError(StoreError):
    """The ledger or views file has damaged pages (SQLite: database disk image is malformed)."""


class NoLedgerError(StoreError):
    """A read was asked of a ledger that does not exist (reads never create one)."""


class ViewsFileNeededError(StoreError):
    """A PostgreSQL store keeps its views in a local SQLite file, and none was given."""


class ViewsMismatchError(StoreError):
    """The views file was built from another store."""


class LedgerChangedError(StoreError):
    """The stored events or their chain were changed outside the ledger."""


class InvalidFieldError(RuleError):
    """An argument of a command has the wrong type, is too large, or holds characters not allowed."""

    def __init__(self, field: str, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(f"invalid {field}: {problem}")


class InvalidValueError(RuleError):
    """A command's value is not one the ledger takes (an empty name, a size or percent out of
    range, an unknown log type, a malformed locale, email, schedule or time zone), or a read asks
    for a version or time a run does not have: bad input, not a rule the run's state broke."""


class ClockSkewError(RuleError):
    """A command's time lies further in the future of the ledger's clock than it tolerates."""


class OutOfRangeError(InvalidFieldError):
    """A time or integer argument lies outside the range the ledger stores (README, Limits)."""
