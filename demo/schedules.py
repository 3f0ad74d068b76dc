"""The demo day's schedules and the scheduler ticking over it.

Early in the day each of the busiest companies creates recurring schedules (Quartz and 5-field
rules, in several zones) and one-off ones; later some are paused, one is resumed, one deleted and
one executed by hand. A scheduler tick at every whole hour (UTC) fires each schedule: a Fire is a
no-op unless the schedule is due, so each due fire time makes one run.

The plan is drawn up front; the commands on a schedule are made once the ledger has answered its
Submit with the schedule's handle, and a run it fired is driven once the ledger has named it (the
schedule's lastRunHandle after the Fire or Execute).
"""

from __future__ import annotations

import msgspec

from jobledger.domain.commands import Delete, Execute, Fire, Pause, Resume, Submit
from jobledger.domain.constants import PublishType
from jobledger.domain.payloads import ImageServingPublishJob, UploadDirectoryJob

from .catalogue import DAY_MS, HOUR_MS, OPERATORS, SCHEDULED_FATES, Asset, Clock, Company, Dice
from .kinds import FIXED_ITEM_KINDS, KINDS
from .runs import Lifecycles, Steps
from .submissions import items_of, payload

QUARTER_MS = HOUR_MS // 4
# Only the busiest companies keep schedules, so the schedule part stays small: tens of schedules
# and a few hundred runs however many companies the demo has.
SCHEDULE_COMPANIES = 6
# A one-off's time is absolute; its zone only says where it was meant.
_ONE_OFF_ZONES = ("UTC", "Europe/Berlin", "America/New_York")

Operation = type[Pause | Resume | Delete]


class SchedulePlan:
    """One demo schedule: its Submit, what its runs need, and what is done to it during the day."""

    def __init__(
        self, number: int, company: Company, email: str, kind: str, items: list[Asset] | None, submit: Submit
    ) -> None:
        self.number = number  # its place among the day's schedules
        self.company = company
        self.email = email
        self.kind = kind
        self.items = items  # the payload's own items; None: each run draws its own
        self.overwrite: bool | None = getattr(submit.payload, "overwrite", None)
        self.submit = submit
        self.operations: list[tuple[int, Operation, str]] = []  # (ms, command, requested by)
        self.executes: list[int] = []  # when it is run by hand (ms into the day)


class Schedules:
    """The schedules of the demo day, their operations and ticks, and the runs they fire."""

    def __init__(self, companies: list[Company], seed: int, clock: Clock) -> None:
        # Draws of their own, so that the runs' draws are the same with or without schedules.
        self.rng = Dice(f"schedules/{seed}")
        self.clock = clock
        self.lifecycles = Lifecycles(self.rng, clock)
        self.plans: list[SchedulePlan] = []
        self.by_handle: dict[str, SchedulePlan] = {}  # as the ledger named them
        self.fired = 0
        start = clock.start
        # The day's start in ms past the hour, to place times on the wall clock.
        self.skew = (start.minute * 60 + start.second) * 1000 + start.microsecond // 1000
        chosen = companies[:SCHEDULE_COMPANIES]
        for index, company in enumerate(chosen):
            self.company_schedules(index, len(chosen), company)
        self.ticks: list[int] = []
        for hour in range((HOUR_MS - self.skew) % HOUR_MS, DAY_MS + 1, HOUR_MS):
            # A tick started by cron on the hour takes a few seconds to get going.
            tick = hour + self.rng.between(1_000, 9_000)
            if tick <= DAY_MS:
                self.ticks.append(tick)

    def submits(self) -> list[tuple[int, SchedulePlan]]:
        """When each schedule is created (ms into the day), in time order."""
        return sorted(((self.clock.ms(plan.submit.at), plan) for plan in self.plans), key=_time_of)

    def created(self, plan: SchedulePlan, handle: str) -> Steps:
        """The commands on a schedule the ledger created as `handle`: what is done to it during the
        day, and a Fire at every scheduler tick after its creation."""
        self.by_handle[handle] = plan
        at = self.clock.at
        steps: Steps = []
        for ms, cls, operator in plan.operations:
            steps.append((ms, cls(at=at(ms), handle=handle, requested_by=operator)))
        steps.extend((ms, Execute(at=at(ms), handle=handle)) for ms in plan.executes)
        created = self.clock.ms(plan.submit.at)
        steps.extend((tick, Fire(at=at(tick), handle=handle)) for tick in self.ticks if tick > created)
        steps.sort(key=_time_of)
        return steps

    def fired_run(self, schedule: str, handle: str, t0: int) -> Steps:
        """The life of run `handle` that schedule `schedule` fired at t0, up to the end of the day."""
        rng = self.rng
        plan = self.by_handle[schedule]
        items = plan.items or items_of(rng, plan.company, plan.kind)
        fate = rng.weighted(SCHEDULED_FATES)
        if fate == "warnings" and KINDS[plan.kind].warning is None:
            fate = "success"
        self.fired += 1
        return self.lifecycles.commands(
            handle,
            plan.kind,
            items,
            t0,
            fate=fate,
            company=plan.company,
            email=plan.email,
            overwrite=plan.overwrite,
            number=self.fired - 1,
        )

    # --- the plan ----------------------------------------------------------------------------

    def quarter(self, ms: int) -> int:
        """The first whole quarter hour (on the wall clock) at or after `ms` into the day."""
        return ms + (-(self.skew + ms)) % QUARTER_MS

    def create(
        self,
        company: Company,
        ms: int,
        name: str,
        kind: str,
        description: str,
        *,
        rule: str | None = None,
        zones: tuple[str, ...] = ("UTC",),
        exec_ms: int | None = None,
        publish: PublishType | None = None,
    ) -> SchedulePlan:
        """Plan a schedule created at `ms`."""
        rng = self.rng
        items = items_of(rng, company, kind)
        chosen = payload(rng, kind, company, items)
        if isinstance(chosen, UploadDirectoryJob):
            # A sweep of the hot folder; the company publishes on a schedule of its own.
            chosen = msgspec.structs.replace(
                chosen,
                serverDir=f"/ips/ftp/{company.handle}/hotfolder",
                postImageServingPublishJob=None,
                postJobOnlyIfFiles=False,
            )
        if isinstance(chosen, ImageServingPublishJob) and publish is not None:
            chosen = msgspec.structs.replace(chosen, publishType=publish)
        email = company.email(rng.pick(company.users))
        submit = Submit(
            at=self.clock.at(ms),
            company=company.handle,
            name=name,
            payload=chosen,
            user_email=email,
            locale=company.locale,
            description=description,
            exec_time=None if exec_ms is None else self.clock.at(exec_ms),
            exec_schedule=rule,
            time_zone=rng.pick(zones),
        )
        fixed = items if kind in FIXED_ITEM_KINDS else None
        plan = SchedulePlan(len(self.plans), company, email, kind, fixed, submit)
        self.plans.append(plan)
        return plan

    def operate(self, cls: Operation, plan: SchedulePlan, ms: int) -> None:
        operator = plan.company.email(self.rng.pick(OPERATORS))
        plan.operations.append((ms, cls, operator))

    def company_schedules(self, index: int, count: int, company: Company) -> None:
        """One company's schedules and what is done to them during the day."""
        rng = self.rng
        t = rng.between(60_000, 900_000)

        def later() -> int:
            nonlocal t
            t += rng.between(20_000, 240_000)
            return t

        hours = HOUR_MS
        catalog = self.create(
            company,
            t,
            "CatalogPublish-Every4h",
            "imageServingPublishJob",
            "Incremental publish of new and changed images every four hours",
            rule="0 0 */4 * * ?",
            zones=("America/New_York", "Europe/London", "Australia/Sydney"),
            publish="Incremental",
        )
        nightly = self.create(
            company,
            later(),
            "NightlyFullPublish",
            "imageServingPublishJob",
            "Full publish with search, nightly",
            rule="0 30 2 * * ?",
            zones=("Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata"),
            publish="FullWithSearch",
        )
        sweep = self.create(
            company,
            later(),
            "HotfolderSweep",
            "uploadDirectoryJob",
            "Upload what the studio dropped in the hot folder",
            rule="0 * * * *",
            zones=("UTC", "Europe/London", "Asia/Kolkata"),
        )
        if index % 2 == 0:
            self.create(
                company,
                later(),
                "PimSync-Weekdays",
                "uploadUrlsJob",
                "Import new supplier images from the PIM, weekday mornings",
                rule="0 15 10 ? * MON-FRI",
                zones=("Asia/Tokyo", "Europe/Paris", "America/Sao_Paulo"),
            )
        else:
            self.create(
                company,
                later(),
                "MonthEndExport",
                "exportJob",
                "Archive export on the last day of the month",
                rule="0 0 12 L * ?",
                zones=("America/Chicago", "Europe/Madrid"),
            )
        self.create(
            company,
            later(),
            "AgencyExport-Once",
            "exportJob",
            "One-off export for the agency",
            zones=_ONE_OFF_ZONES,
            exec_ms=self.quarter(rng.between(3 * hours, 16 * hours)),
        )
        self.create(
            company,
            later(),
            "LaunchPublish",
            "imageServingPublishJob",
            "Publish the launch collection when the embargo lifts",
            zones=_ONE_OFF_ZONES,
            exec_ms=self.quarter(DAY_MS + rng.between(2 * hours, 30 * hours)),
            publish="FullWithSearch",
        )
        price = self.create(
            company,
            later(),
            "PriceChangeMetadata",
            "metadataPublishJob",
            "Publish the new price metadata (on hold until legal signs off)",
            zones=_ONE_OFF_ZONES,
            exec_ms=self.quarter(rng.between(12 * hours, 20 * hours)),
        )
        self.operate(Pause, price, rng.between(2 * hours, 8 * hours))
        if index % 3 == 1:
            self.operate(Pause, catalog, rng.between(6 * hours, 10 * hours))
        if index == 0:
            # Paused for a few hours and resumed: the missed fire times then fire once.
            self.operate(Pause, sweep, rng.between(6 * hours, 8 * hours))
            self.operate(Resume, sweep, rng.between(11 * hours, 13 * hours))
        if index == 1 % count:
            partner = self.create(
                company,
                later(),
                "PartnerFeedPublish",
                "serverDirectoryPublishJob",
                "Twice-daily partner feed (the partnership ended)",
                rule="0 0 6,18 * * ?",
                zones=("America/Chicago",),
            )
            self.operate(Delete, partner, rng.between(13 * hours, 15 * hours))
        if index == 2 % count:
            # Tonight's full publish, run by hand now: the trigger stays as it is.
            nightly.executes.append(rng.between(9 * hours, 12 * hours))


def _time_of(step: tuple[int, object]) -> int:
    return step[0]
