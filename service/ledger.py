"""JobLedger: the application service, and the only place that appends events.

Each command loads the job, decides, and appends the new events in one transaction. The store's
uniqueness of (aggregate id, version) is the optimistic lock: a writer that lost a race reloads
and decides once more, so a rule that the other writer's events broke is reported as that rule.
"""

from __future__ import annotations

import os
import time
from collections import Counter, OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.utils import Environment, EnvType

from jobledger.domain.access import BOOK_ID, AccessEvent, Token, TokenBook
from jobledger.domain.aggregates import Aggregate, fold
from jobledger.domain.collector import collector_paused
from jobledger.domain.commands import (
    Command,
    Execute,
    Fire,
    Submit,
)
from jobledger.domain.errors import (
    ConcurrencyError,
    InvalidValueError,
    LedgerError,
    RuleError,
    StoreError,
    UndecodableEventError,
    UnknownHandleError,
)
from jobledger.domain.events import (
    DomainEvent,
    IdempotencyKeyClaimed,
)
from jobledger.domain.handles import idempotency_id, job_id
from jobledger.domain.job import Job
from jobledger.domain.schedule import Schedule
from jobledger.domain.validation import validate, validate_batch
from jobledger.store.codec import MsgspecMapper
from jobledger.store.config import ensure_postgres_schema, is_postgres_url, store_env, store_identity
from jobledger.store.failures import store_error, store_failures
from jobledger.store.reader import Stored, StoreReader
from jobledger.store.writer import EventWriter, LostRace

from . import tokens
from .batch import Batch, Outcomes, all_or_none
from .commanding import Commands, Submission, When, _when
from .contention import CONTENDED_S, Contention
from .tokens import IssuedToken

T = TypeVar("T")
CACHE_SIZE = 4096
FIRE_ATTEMPTS = 5
# How far ahead of the ledger's clock a command's `at` may be (a runner's clock a little fast).
DEFAULT_MAX_CLOCK_SKEW = timedelta(minutes=5)


class JobLedger(Commands, Application[UUID]):
    """The ledger of jobs: submit and drive runs, read their state and history."""

    name = "JobLedger"

    def __init__(
        self,
        db: str | os.PathLike[str] = "jobledger.db",
        *,
        create: bool = True,
        max_clock_skew: timedelta | None = DEFAULT_MAX_CLOCK_SKEW,
    ) -> None:
        path = os.fspath(db) if isinstance(db, os.PathLike) else db
        if not isinstance(path, str):
            raise TypeError(f"db must be a file path or a postgresql:// URL, not {type(path).__name__}")
        db = path
        self.max_clock_skew = max_clock_skew  # None: any future time is accepted
        self._closed = False
        env = store_env(db, create=create)
        new_file = create and _is_new_file(db)
        if is_postgres_url(db) and ensure_postgres_schema(db, create=create):
            # The library would re-run its CREATE statements (CREATE OR REPLACE FUNCTION among
            # them) on every open, and concurrent opens then fail with "tuple concurrently updated".
            env["CREATE_TABLE"] = "no"
        for attempt in range(1, 4):
            try:
                super().__init__(env=env)
                break
            except Exception as err:  # the library raises many kinds while connecting
                if attempt < 3 and "concurrently" in str(err):
                    continue  # two processes creating a new ledger's tables at once
                raise store_error(db, err) from err
        self.db = db
        mapper = self.mapper
        assert isinstance(mapper, MsgspecMapper)
        self._mapper = mapper
        self.reader = StoreReader(db, self.recorder, mapper)
        self._writer = EventWriter(db, self.recorder, mapper)
        if new_file:
            # A new ledger file holds its (empty) view tables from the start, for sqlite3 and
            # Datasette to see before any read command has run. (Imported here: sqlite-utils
            # is no concern of a command that only appends to an existing ledger.)
            from jobledger.projections.database import ViewsDatabase

            views = ViewsDatabase(db, store_identity=store_identity(db))
            views.ensure_views()
            views.close()
        # Recently written jobs, so a runner's next command need not read the store. A stale
        # entry is harmless: its next append conflicts and the job is reloaded.
        self._cache: OrderedDict[str, Aggregate] = OrderedDict()  # by handle: a str caches its hash
        self._lost_race_at = -CONTENDED_S
        # The clock-skew limit the last batch read (see Decider.latest): a runner's next command
        # need not read the clock again.
        self._latest_accepted: datetime | None = None
        self._held_since: datetime | None = None  # _latest_accepted before a held commit
        # The events this object appended, by kind, once committed (a server's metrics); those
        # of a held commit wait in _held_counts for it.
        self.appended: Counter[str] = Counter()
        self._held_counts: Counter[str] | None = None

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """The store's settings from --db alone: the library would merge in os.environ."""
        # Unlike Application.construct_env, nothing comes from the process environment: there a
        # JOBLEDGER_POSTGRES_DBNAME would redirect the store, POSTGRES_ENABLE_DB_FUNCTIONS would
        # skip our chain and table lock, a CIPHER_TOPIC would write bytes the views cannot read.
        return Environment(name, dict(env or {}))

    def fire(self, handle: str, *, at: When = None, force: bool = False) -> str | None:
        """Fire a schedule if it is due at `at`; return the new run's handle, or None if not due.

        Another scheduler firing the same schedule meanwhile is not an error: this call then
        reads the schedule again and fires only what is still due. `force` accepts an `at` in
        the future of the clock (a deliberate catch-up), however far.
        """
        for _ in range(FIRE_ATTEMPTS):
            try:
                _, batch = self._record_batch([Fire(handle=handle, at=_when(at))], force=force)
            except ConcurrencyError:
                continue
            return batch.created_runs[0] if batch.created_runs else None
        raise ConcurrencyError(f"schedule {handle} kept changing while it was being fired; tick again")

    def record(self, commands: Sequence[Command]) -> list[Aggregate]:
        """Decide a batch of commands in order and append all their events in one transaction.

        Either every command is recorded or, on the first broken rule, none is. Returns the
        state of the run or schedule after each command.
        """
        with collector_paused(len(commands)):
            return self._record_batch(commands)[0]

    def record_each(self, commands: Sequence[Command], together: Sequence[range] = ()) -> Outcomes:
        """Decide a group of independent commands in order and append the events of those that
        keep the rules in one transaction (group commit); a command that breaks a rule, or is
        invalid, fails alone. Returns each command's state or error, and the position of each
        command's last event (0 for a command that appended nothing).

        `together`: ranges of commands (in order, not overlapping) recorded all or none, as one
        request's: if one fails, the others of its range fail with NotRecordedError. A store
        failure fails the whole group (nothing is appended). Groups are kept under the bulk
        appender's size: they are appended in this process.
        """
        with collector_paused(len(commands)):
            checked: list[Command | LedgerError] = []
            try:
                # Commands of a type checked together: a fraction of the cost, when all are valid.
                checked.extend(validate_batch(commands))
            except LedgerError:
                for command in commands:
                    try:
                        checked.append(validate(command))
                    except LedgerError as err:
                        checked.append(err)
            spans = all_or_none(checked, together) if together else ()
            valid = [command for command in checked if not isinstance(command, LedgerError)]
            outcomes, batch = self._record_batch(valid, each=True, together=spans)
            # Back to the places of the commands given, around the invalid ones.
            decided = iter(zip(outcomes, batch.end_positions(), range(len(valid)), strict=True))
            states: list[Aggregate | LedgerError] = []
            positions: list[int] = []
            replayed: list[bool] = []
            for given in checked:
                if isinstance(given, LedgerError):
                    state, position, replay = given, 0, False
                else:
                    state, position, index = next(decided)
                    replay = index in batch.replays
                states.append(state)
                positions.append(position)
                replayed.append(replay)
            return Outcomes(states, positions, replayed)

    def _record_batch(
        self,
        commands: Sequence[Command],
        *,
        force: bool = False,
        each: bool = False,
        together: Sequence[range] = (),
    ) -> tuple[list[Any], Batch]:
        # A batch is validated as a whole, once (a single command, where the decider decides it).
        validated = each or len(commands) > 1
        if validated and not each:
            commands = validate_batch(commands)
        skew = None if force else self.max_clock_skew
        latest = None if force else self._latest_accepted
        contention: Contention | None = None
        fresh = False  # the first try decides on cached states and trusts new handles to be free
        turn: AbstractContextManager[None] | None = None  # this writer's turn, once it takes one
        # Committed states this call has seen, maybe behind the store: a try after a lost race
        # reads only the events appended since, instead of each run's whole history again.
        known: dict[str, Aggregate] = {}
        with self._writer.appends(len(commands)) as begin:
            try:
                if time.monotonic() - self._lost_race_at < CONTENDED_S:
                    # Writers met on these runs a moment ago: take a turn at once, reading what is
                    # new since the cached states (an optimistic try would most likely lose, and a
                    # writer that just won, its cache fresh, would keep cutting in ahead of the queue).
                    turn = self._writer.serialized()
                    turn.__enter__()
                    fresh = True
                while True:
                    source = _LedgerState(self, fresh=fresh, known=known)
                    batch = Batch(source, max_skew=skew, latest=latest, each=each)
                    append = begin()
                    try:
                        results = batch.decide_all(commands, validated, append, together)
                    except RuleError:
                        append.abandon()
                        if not fresh and batch.used_cache:
                            # Decided on a cached state another writer may have moved on: read and
                            # decide again.
                            for handle in batch.used_cache:
                                cached = self._cache.pop(handle, None)
                                if cached is not None:
                                    known[handle] = cached
                            fresh = True
                            continue
                        raise
                    try:
                        batch.positions = append.finish(batch.events)
                    except LostRace as err:
                        # Another writer appended to one of these jobs (or took a handle) meanwhile.
                        for handle in batch.states:
                            cached = self._cache.pop(handle, None)
                            if cached is not None:
                                known.setdefault(handle, cached)
                        known.update(source.loaded)  # newer than what the cache held
                        self._lost_race_at = time.monotonic()
                        contention = contention or Contention()
                        contention.lose(holding_turn=turn is not None, cause=err)
                        if turn is None:
                            turn = self._writer.serialized()
                            turn.__enter__()
                        fresh = True
                        continue
                    for state in batch.states.values():
                        self._remember(state)
                    if not force:
                        self._latest_accepted = batch.latest
                    self._count(batch.events)
                    return results, batch
            finally:
                if turn is not None:
                    turn.__exit__(None, None, None)

    # --- a commit held for the caller ----------------------------------------------------

    @property
    def can_hold_commit(self) -> bool:
        """Whether `holding_commit` leaves commits to `commit_held` (SQLite), or commits at once."""
        return self._writer.can_hold_commit

    @contextmanager
    def holding_commit(self) -> Iterator[None]:
        """One `record_each` made inside leaves its transaction open until `commit_held`, which
        may run on another thread: a server's event loop goes on while the fsync runs. Nothing
        of it is durable, or may be answered, before that."""
        self._held_since = self._latest_accepted
        self._held_counts = Counter() if self.can_hold_commit else None
        with self._writer.holding_commit():
            yield

    def begin_held(self) -> None:
        """Take the store's write lock for the next held `record_each` now, on this thread (it
        may wait for another writer); the record_each may run on another."""
        self._writer.begin_held()

    def commit_held(self) -> None:
        """Commit what a held `record_each` appended. On a failure (StoreError) none of it stays
        and the states it decided are forgotten."""
        held, self._held_counts = self._held_counts, None
        try:
            self._writer.commit_held()
        except StoreError:
            self._cache.clear()
            self._latest_accepted = self._held_since
            raise
        if held:
            self.appended.update(held)

    def _count(self, events: Sequence[DomainEvent]) -> None:
        counts = self._held_counts if self._held_counts is not None else self.appended
        counts.update(map(_kind, events))

    def _append(self, events: Sequence[DomainEvent]) -> list[int]:
        positions = self._writer.append(events)
        self._count(events)
        return positions

    # --- queries -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the store's connections (and stop the bulk appender, if one was started); once."""
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        super().close()

    def get(self, handle: str, company: str | None = None) -> Aggregate:
        """The current state of a run or schedule, read from the store."""
        return self._load(handle, company)

    def history(self, handle: str, company: str | None = None, limit: int | None = None) -> list[DomainEvent]:
        """Every event of a run or schedule, in order (the first `limit`, if given)."""
        events = self._events(job_id(handle))
        state = fold(events)
        if state is None or (company is not None and state.companyHandle != company):
            raise UnknownHandleError(handle, company)
        return events[:limit]

    def _state_at(
        self, handle: str, as_of: datetime | None, version: int | None, company: str | None
    ) -> Aggregate:
        events = self.history(handle, company)
        if version is not None:
            if not 1 <= version <= len(events):
                raise InvalidValueError(f"{handle} has versions 1 to {len(events)}, not {version}")
            events = events[:version]
        if as_of is not None:
            first = events[0].timestamp
            events = [event for event in events if event.timestamp <= as_of]
            if not events:
                raise InvalidValueError(
                    f"{handle} did not exist at {as_of.isoformat()}; it was created at {first.isoformat()}"
                )
        state = fold(events)
        assert state is not None
        return state

    def submitted(self, company: str, key: str) -> tuple[Aggregate, int] | None:
        """What the submit that claimed a company's idempotency key recorded: the run's (or
        schedule's) state just after it, and the position of its last event (the claim, appended
        last); None for a key never used. A replay is answered with it, as the submit was."""
        found = self.reader.first_stored(idempotency_id(company, key))
        if found is None:
            return None
        claim = self.reader.decode(found)
        assert isinstance(claim, IdempotencyKeyClaimed)
        state = self.state_at(claim.jobHandle, as_of=claim.timestamp, company=company)
        return state, found.position

    def shared_reader(self) -> StoreReader:
        """A reader of this ledger's store that keeps the ledger open for as long as it is used."""
        return StoreReader(self.db, self.recorder, self._mapper, owner=self)

    def append_stored(self, records: Sequence[Stored]) -> None:
        """Append already-stored events in one transaction (the batch path of `import`)."""
        self.reader.append_stored(records)

    def event_count(self) -> int:
        """How many events the ledger holds."""
        return self.reader.count()

    def head_position(self) -> int:
        """Position of the last stored event (0 for an empty ledger); see StoreReader.head."""
        return self.reader.head()

    # --- tokens ---------------------------------------------------------------------------

    def create_token(self, company: str, role: str, *, name: str = "") -> IssuedToken:
        """Issue a bearer token for `company` with an IPS user type (IpsAdmin, IpsCompanyAdmin,
        IpsUser, ReadOnly); its secret is in the result only, the ledger keeps its hash."""
        return tokens.issue(self._book_events, self._append, company, role, name)

    def revoke_token(self, token_id: str, *, company: str | None = None) -> Token:
        """Revoke a token by its id (of `company` only, when given)."""
        return tokens.revoke(self._book_events, self._append, token_id, company)

    def tokens(self, book: TokenBook | None = None) -> TokenBook:
        """Every token ever issued (`book` brought up to date, if given)."""
        return tokens.read_book(self._book_events, book)

    def _book_events(self, after: int) -> list[AccessEvent]:
        return self._events(BOOK_ID, after)

    # --- internals -----------------------------------------------------------------------

    def _submit(self, command: Submit) -> Submission:
        states, batch = self._record_batch([command])
        return Submission(states[0].jobHandle, 0 in batch.replays)

    def _execute(self, command: Execute) -> str:
        _, batch = self._record_batch([command])
        return batch.created_runs[0]

    def _any(self, command: Command) -> Aggregate:
        return self.record([command])[0]

    def _one(self, command: Command) -> Job:
        state = self.record([command])[0]
        assert isinstance(state, Job)
        return state

    def _schedule(self, command: Command) -> Schedule:
        state = self.record([command])[0]
        assert isinstance(state, Schedule)
        return state

    def _events(self, uuid: UUID, after: int = 0) -> list[Any]:
        try:
            with store_failures(self.db):
                return list(self.events.get(uuid, gt=after or None))
        except (UndecodableEventError, StoreError):
            # The library's read names no position (and on SQLite cannot read a state changed to
            # text): read again through our own select, which raises naming the position.
            self.reader.check_events_of(uuid)
            raise

    def _load(self, handle: str, company: str | None) -> Aggregate:
        state = fold(self._events(job_id(handle)))
        if state is None or (company is not None and state.companyHandle != company):
            raise UnknownHandleError(handle, company)
        return state

    def _remember(self, state: Aggregate) -> None:
        self._cache[state.jobHandle] = state
        self._cache.move_to_end(state.jobHandle)
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)


def _is_new_file(db: str) -> bool:
    """Whether `db` names an SQLite ledger file not made yet (missing or empty)."""
    if is_postgres_url(db) or db == ":memory:" or db.startswith("file:"):
        return False
    return not os.path.exists(db) or os.path.getsize(db) == 0


class _LedgerState:
    """The state a decision reads: the ledger's cache of recent states, then the store.

    A first attempt decides on cached states and trusts new handles to be free (a read of the
    store costs about 36 us on SQLite, a round trip on PostgreSQL); if either was wrong, the
    append fails on the store's uniqueness and the batch is decided again, fresh, with every
    state read and every new handle checked in the store.
    """

    def __init__(self, ledger: JobLedger, *, fresh: bool, known: dict[str, Aggregate]) -> None:
        self._ledger = ledger
        self._fresh = fresh
        self._known = known
        self.loaded: dict[str, Aggregate] = {}  # committed states read from the store

    def cached(self, handle: str) -> Aggregate | None:
        return None if self._fresh else self._ledger._cache.get(handle)

    def load(self, handle: str) -> Aggregate | None:
        # A committed state seen before (maybe behind the store) is a base to read on from.
        base = self._known.pop(handle, None) or self._ledger._cache.get(handle)
        after = base.version if base is not None else 0
        state = fold(self._ledger._events(job_id(handle), after), base)
        if state is not None:
            self.loaded[handle] = state
        return state

    def exists(self, handle: str) -> bool:
        if not self._fresh:
            return handle in self._ledger._cache
        return self._ledger._writer.exists(job_id(handle))

    def claim(self, company: str, key: str) -> IdempotencyKeyClaimed | None:
        events = self._ledger._events(idempotency_id(company, key))
        return events[0] if events else None


def _kind(event: DomainEvent) -> str:
    return type(event).__name__
