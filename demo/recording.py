"""record_demo: the demo day, recorded through the ledger as its users, runners and scheduler would
drive it, batch by batch.

The day is cut into windows of `batch_jobs` submitted runs. Each `record` call reports what the
runners and operators did before the window, on the runs and schedules the ledger has already
named, and then submits the window's runs and schedules. The handles come from the states that
call returns: a run's life is drawn (demo/runs.py) once its Submit is answered, a schedule's
operations and ticks once its Submit is, a run a schedule fired once the Fire or Execute names it
(lastRunHandle), and a follow-on publish once the Complete of its upload names it
(followOnHandle). Commands whose time falls before the window, but which could only be made
after the previous call (a fired run's or a follow-on's first steps), go into the next call; when
every run is submitted, the calls go on until nothing is left before the end of the day.

Every draw is made from one of four dice (the submissions, the runs' lives, the follow-ons,
the schedules and the runs they fire), each in an order that is the same however the day is
batched: the same arguments give the same events whatever `batch_jobs` is, and the same calls.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import islice

from jobledger.domain.aggregates import Aggregate
from jobledger.domain.commands import Command, Complete, Execute, Fire
from jobledger.domain.job import Job
from jobledger.domain.schedule import Schedule

from .catalogue import DAY_MS, FOLLOW_ON_FATES, Clock, Dice, make_companies
from .kinds import FOLLOW_ON_KIND
from .runs import Lifecycles, Steps
from .schedules import SchedulePlan, Schedules
from .submissions import RunPlan, Submissions

# Runs per window. Large calls write far less per event (each commit rewrites the index pages it
# touched, and from 10,000 commands on the ledger appends from a helper process), and a window's
# runs still fit the ledger's cache of recent states when the next call reports on them.
BATCH_JOBS = 4000
# Commands due at the same millisecond are recorded in this order of what they belong to.
_RUNS, _FOLLOW_ONS, _SCHEDULES, _FIRED = range(4)

Record = Callable[[list[Command]], Sequence[Aggregate]]
_Entry = tuple[int, int, int, int, Command]  # (ms, lane, number in the lane, step, command)


def record_demo(
    record: Record,
    jobs: int,
    companies: int,
    seed: int,
    start: datetime,
    *,
    batch_jobs: int = BATCH_JOBS,
) -> Iterator[tuple[list[Command], Sequence[Aggregate]]]:
    """Record the demo day from `start` through `record` (JobLedger.record): `jobs` runs submitted
    by the users of `companies` companies, with the schedules of the busiest; yield each batch
    with the states it returned. The same arguments give the same batches and events."""
    if jobs < 0:
        raise ValueError("jobs must be 0 or more")
    if companies < 1:
        raise ValueError("companies must be 1 or more")
    if batch_jobs < 1:
        raise ValueError("batch_jobs must be 1 or more")
    start = (start if start.tzinfo is not None else start.replace(tzinfo=UTC)).astimezone(UTC)
    return _Day(record, jobs, companies, seed, Clock(start)).batches(batch_jobs)


class _Agenda:
    """Commands on handles the ledger has named, waiting for their turn, in time order."""

    def __init__(self) -> None:
        self.entries: list[_Entry] = []

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, lane: int, number: int, steps: Steps) -> None:
        append = self.entries.append
        for step, (ms, command) in enumerate(steps):
            append((ms, lane, number, step, command))

    def before(self, limit: int) -> list[Command]:
        """Take the commands due before `limit` (ms into the day), in time order."""
        entries = self.entries
        entries.sort()  # (ms, lane, number, step) is unique: commands are never compared
        cut = bisect_left(entries, limit, key=_time_of)
        taken = [entry[4] for entry in entries[:cut]]
        del entries[:cut]
        return taken


class _Day:
    """One demo day being recorded: the plans, the agenda, and what the ledger has answered."""

    def __init__(self, record: Record, jobs: int, companies: int, seed: int, clock: Clock) -> None:
        self.record = record
        self.jobs = jobs
        self.clock = clock
        rng = Dice(seed)
        pool = min(2000, max(40, jobs // companies // 4))
        people = make_companies(rng, companies, pool)
        self.companies = {company.handle: company for company in people}
        self.submissions = Submissions(rng, people, clock, jobs)
        self.lives = Lifecycles(Dice(f"runs/{seed}"), clock)
        self.follow_ons = Lifecycles(Dice(f"follow-ons/{seed}"), clock)
        self.schedules = Schedules(people, seed, clock)
        self.agenda = _Agenda()
        self.follow_on_count = 0
        self.last_runs: dict[str, str] = {}  # the last run each schedule fired, by schedule handle

    def batches(self, batch_jobs: int) -> Iterator[tuple[list[Command], Sequence[Aggregate]]]:
        times = self.submissions.times
        schedules = self.schedules.submits()
        taken = 0  # schedules submitted so far
        before = 0  # the window's start: what is due before it can be reported
        for first in range(0, max(self.jobs, 1), batch_jobs):
            following = first + batch_jobs
            limit = times[following] if following < self.jobs else DAY_MS + 1
            opening: list[tuple[int, int, int, RunPlan | SchedulePlan]] = [
                (plan.t0, _RUNS, plan.seq, plan)
                for plan in map(self.submissions.plan, range(first, min(following, self.jobs)))
            ]
            while taken < len(schedules) and schedules[taken][0] < limit:
                ms, plan = schedules[taken]
                opening.append((ms, _SCHEDULES, plan.number, plan))
                taken += 1
            opening.sort(key=_order_of)
            known = self.agenda.before(before)
            batch = known + [entry[3].submit for entry in opening]
            before = limit
            if not batch:
                continue
            states = self.record(batch)
            yield batch, states
            self.learn(batch, states, len(known))
            self.submitted([entry[3] for entry in opening], islice(states, len(known), None))
        while self.agenda:
            batch = self.agenda.before(DAY_MS + 1)
            states = self.record(batch)
            yield batch, states
            self.learn(batch, states, len(batch))

    def submitted(self, plans: list[RunPlan | SchedulePlan], states: Iterator[Aggregate]) -> None:
        """Plan the commands on the runs and schedules the ledger has just created."""
        for plan, state in zip(plans, states, strict=True):
            handle = state.jobHandle
            if isinstance(plan, SchedulePlan):
                self.agenda.add(_SCHEDULES, plan.number, self.schedules.created(plan, handle))
                continue
            steps = self.lives.commands(
                handle,
                plan.kind,
                plan.items,
                plan.t0,
                fate=plan.fate,
                company=plan.company,
                email=plan.email,
                overwrite=plan.overwrite,
                number=plan.seq,
            )
            self.agenda.add(_RUNS, plan.seq, steps)

    def learn(self, batch: list[Command], states: Sequence[Aggregate], count: int) -> None:
        """Plan the runs that the first `count` commands of a recorded batch made the ledger create:
        the follow-on publishes of completed uploads, and the runs schedules fired."""
        for command, state in zip(islice(batch, count), states, strict=False):
            if isinstance(command, Complete):
                if isinstance(state, Job) and state.followOnHandle is not None:
                    self.follow_on(state, state.followOnHandle, self.clock.ms(command.at))
            elif isinstance(command, (Fire, Execute)) and isinstance(state, Schedule):
                run = state.lastRunHandle
                if run is not None and run != self.last_runs.get(state.jobHandle):
                    self.last_runs[state.jobHandle] = run
                    number = self.schedules.fired
                    steps = self.schedules.fired_run(state.jobHandle, run, self.clock.ms(command.at))
                    self.agenda.add(_FIRED, number, steps)

    def follow_on(self, upload: Job, handle: str, t0: int) -> None:
        """Drive the follow-on publish `handle` that the ledger created when `upload` completed at t0."""
        rng = self.follow_ons.rng
        company = self.companies[upload.companyHandle]
        items = rng.sample(company.assets["image"], rng.between(2, 6))
        steps = self.follow_ons.commands(
            handle,
            FOLLOW_ON_KIND,
            items,
            t0,
            fate=rng.weighted(FOLLOW_ON_FATES),
            company=company,
            email=upload.submitUserEmail,
            number=self.follow_on_count,
        )
        self.agenda.add(_FOLLOW_ONS, self.follow_on_count, steps)
        self.follow_on_count += 1


def _time_of(entry: _Entry) -> int:
    return entry[0]


def _order_of(entry: tuple[int, int, int, object]) -> tuple[int, int, int]:
    return entry[0], entry[1], entry[2]
