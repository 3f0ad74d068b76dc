"""The wording of store failures, and the one place that turns the library's errors into StoreError."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from eventsourcing.persistence import IntegrityError, PersistenceError

from jobledger.domain.errors import DamagedStoreError, LedgerChangedError, StoreError

from .config import is_damage, is_postgres_url, postgres_env, postgres_problem, sqlite_problem
from .sqlite_chain import ChainBrokenError


def store_error(db: str, err: Exception) -> StoreError:
    """The StoreError for a failure of the store at --db (DamagedStoreError for damaged pages)."""
    message = describe_store_failure(db, err)
    return DamagedStoreError(message) if is_damage(str(err)) else StoreError(message)


def describe_store_failure(db: str, err: Exception) -> str:
    """One line saying why the store at --db could not be opened or used."""
    if is_postgres_url(db):
        return postgres_problem(postgres_env(db), err)
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    problem = sqlite_problem(Path(db), first)
    verb = "write" if problem == "the disk is full" else "open"
    return f"cannot {verb} ledger {db}: {problem}"


class store_failures:  # named as a function: `with store_failures(db):`
    """Report a failure of the store at `db` as one StoreError line; an IntegrityError (a lost
    race, which the caller handles) passes through unchanged.

    A class rather than a generator-based context manager: every command enters one, and
    @contextmanager costs a generator and several frames each time.
    """

    __slots__ = ("db",)

    def __init__(self, db: str) -> None:
        self.db = db

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if err is None or isinstance(err, IntegrityError) or not isinstance(err, PersistenceError):
            return
        if isinstance(err.__cause__, ChainBrokenError):  # the ledger opened; the append was refused
            raise LedgerChangedError(str(err.__cause__)) from err
        raise store_error(self.db, err) from err
