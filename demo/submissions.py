"""What the users of the demo companies submit: when, which kind of run and how it is to end, and
the Submit itself (name, description, locale and a payload of the kind, with its assets).

A run's plan is drawn before it is submitted; what happens to it afterwards is drawn once the
ledger has answered the Submit with the run's handle (demo/runs.py).
"""

from __future__ import annotations

from typing import NamedTuple

from jobledger.domain.commands import Submit
from jobledger.domain.constants import EmailSetting, ExportFormat, PublishType
from jobledger.domain.payloads import (
    AnyPayload,
    AutomatedSetGenerationJob,
    CreateVideoSitemapJob,
    ExportJob,
    ImageRenderingPublishJob,
    ImageServingPublishJob,
    MetadataPublishJob,
    OptimizeImagesJob,
    ReprocessAssetsJob,
    RipPdfsJob,
    ServerDirectoryPublishJob,
    UploadDirectoryJob,
    UploadUrlsJob,
    VideoPublishJob,
)

from .catalogue import (
    BODY_FATES,
    DAY_MS,
    DONE_FATES,
    EMAIL_TABLE,
    FOLDERS,
    LIVE_FATES,
    LOCALES,
    PUBLISH_TABLE,
    SEASONS,
    TAIL_FATES,
    TAIL_MS,
    TAIL_SHARE,
    Asset,
    Clock,
    Company,
    Dice,
    Weighted,
)
from .kinds import KIND_NAMES, KIND_TABLE, KINDS, WARNING_KIND_TABLE


def folder(rng: Dice) -> str:
    return rng.pick(FOLDERS).format(n=rng.between(1, 400), season=rng.pick(SEASONS))


def dest_folder(rng: Dice, company: Company) -> str | None:
    if rng.chance(0.3):
        return None
    category = rng.pick(("products", "campaigns", "lookbook", "marketplace"))
    return f"{company.handle}/{category}/{rng.pick(SEASONS)}/"


def payload(rng: Dice, kind: str, company: Company, items: list[Asset]) -> AnyPayload:
    """A payload of the kind, naming the given assets where the kind lists its items."""
    email: EmailSetting = rng.weighted(EMAIL_TABLE)
    hook = f"https://hooks.{company.domain}/ips/job-complete" if rng.chance(0.25) else None
    handles = [a.handle for a in items]
    if kind == "imageServingPublishJob":
        publish: PublishType = rng.weighted(PUBLISH_TABLE)
        return ImageServingPublishJob(publishType=publish, emailSetting=email, httpCompletionUrl=hook)
    if kind == "imageRenderingPublishJob":
        return ImageRenderingPublishJob(emailSetting=email, httpCompletionUrl=hook)
    if kind == "videoPublishJob":
        return VideoPublishJob(emailSetting=email, httpCompletionUrl=hook)
    if kind == "serverDirectoryPublishJob":
        return ServerDirectoryPublishJob(emailSetting=email, httpCompletionUrl=hook)
    if kind == "metadataPublishJob":
        return MetadataPublishJob(
            forcePublish=rng.chance(0.1), emailSetting=email if rng.chance(0.7) else None
        )
    if kind == "uploadDirectoryJob":
        post = rng.chance(0.25)
        return UploadDirectoryJob(
            serverDir=f"/ips/ftp/{company.handle}/{folder(rng)}",
            overwrite=rng.chance(0.6),
            readyForPublish=rng.chance(0.7),
            includeSubfolders=rng.chance(0.4),
            createMask=rng.chance(0.15),
            processMetadataFiles=rng.chance(0.3),
            emailSetting=email,
            destFolder=dest_folder(rng, company),
            preserveCrop=True if rng.chance(0.2) else None,
            xmpKeywords=f"{rng.pick(SEASONS)},catalog" if rng.chance(0.15) else None,
            postImageServingPublishJob=(
                ImageServingPublishJob(publishType="Incremental", emailSetting="Error") if post else None
            ),
            postJobOnlyIfFiles=post,
        )
    if kind == "uploadUrlsJob":
        source = rng.pick(("pim", "supplier-cdn", "dam-export"))
        return UploadUrlsJob(
            overwrite=rng.chance(0.6),
            readyForPublish=rng.chance(0.7),
            createMask=rng.chance(0.1),
            emailSetting=email,
            urlArray=[f"https://{source}.{company.domain}/originals/{a.name}" for a in items],
            destFolder=dest_folder(rng, company),
        )
    if kind == "optimizeImagesJob":
        return OptimizeImagesJob(emailSetting=email)
    if kind == "ripPdfsJob":
        return RipPdfsJob(
            pdfHandleArray=handles, createMask=rng.chance(0.1), emailSetting=email, postHttpUrl=hook
        )
    if kind == "reprocessAssetsJob":
        return ReprocessAssetsJob(
            assetHandleArray=handles,
            createMask=rng.chance(0.2),
            emailSetting=email,
            preserveCrop=rng.chance(0.5),
        )
    if kind == "createVideoSitemapJob":
        return CreateVideoSitemapJob(
            forceUpdate=rng.chance(0.2), emailSetting=email if rng.chance(0.5) else None
        )
    if kind == "exportJob":
        fmt: ExportFormat = "orig" if rng.chance(0.6) else "convert"
        convert = fmt == "convert"
        return ExportJob(
            assetHandleArray=handles,
            fmt=fmt,
            emailSetting=email,
            macro="$web$" if convert and rng.chance(0.5) else None,
            is_modifier="wid=2000&fmt=jpeg&qlt=90" if convert and rng.chance(0.5) else None,
        )
    if kind == "automatedSetGenerationJob":
        spin = rng.chance(0.3)
        return AutomatedSetGenerationJob(
            assetHandleArray=handles,
            readyForPublish=rng.chance(0.6),
            autoSetCreationOptions={
                "setType": "SpinSet" if spin else "ImageSet",
                "baseNamePattern": r"^(SKU-\d+)_",
                "sortOrder": "Alphabetical",
            },
            emailSetting=email,
            destFolder=dest_folder(rng, company),
        )
    raise ValueError(f"unknown payload kind {kind!r}")


def items_of(rng: Dice, company: Company, kind: str) -> list[Asset]:
    """The assets a run of the kind works on, from one of the kind's asset groups."""
    spec = KINDS[kind]
    return rng.sample(company.assets[rng.pick(spec.groups)], rng.between(*spec.items))


class RunPlan(NamedTuple):
    """A run about to be submitted, and what its runner needs once the ledger has named it."""

    seq: int  # its place among the day's submitted runs
    t0: int  # when it is submitted, in ms into the day
    kind: str
    fate: str  # how it is to end (catalogue's fates)
    company: Company
    email: str  # of the user who submits it
    items: list[Asset]
    overwrite: bool | None  # the payload's overwrite flag, where it has one
    submit: Submit


class Submissions:
    """The runs the companies' users submit over the day, in time order.

    The submit times are drawn first, all of them, so that a caller can cut the day into windows
    of runs before it draws the runs themselves; `plan` then draws each run, in order.
    """

    def __init__(self, rng: Dice, companies: list[Company], clock: Clock, jobs: int) -> None:
        self.rng = rng
        self.clock = clock
        # Some companies are much busier than others.
        self.company_table = Weighted(companies, [1.0 / (i + 1) ** 0.7 for i in range(len(companies))])
        self.width = max(4, len(str(jobs)))
        self.times = sorted(
            DAY_MS - rng.between(1000, TAIL_MS)
            if rng.chance(TAIL_SHARE)
            else rng.between(0, DAY_MS - TAIL_MS)
            for _ in range(jobs)
        )
        # The first runs cover every payload kind, then every way a run can end.
        self.forced_kinds = list(KIND_NAMES)
        rng.shuffle(self.forced_kinds)
        self.forced_fates = [*DONE_FATES, *LIVE_FATES]
        rng.shuffle(self.forced_fates)

    def plan(self, seq: int) -> RunPlan:
        """The `seq`th run of the day (call in order of seq: each draws from the same dice)."""
        rng = self.rng
        t0 = self.times[seq]
        kind, fate = self.kind_and_fate(seq, t0)
        spec = KINDS[kind]
        company = rng.weighted(self.company_table)
        email = company.email(rng.pick(company.users))
        items = items_of(rng, company, kind)
        name = f"{rng.pick(spec.stems)}-{seq + 1:0{self.width}d}"
        locale = company.locale if rng.chance(0.85) else rng.pick(LOCALES)
        description = rng.pick(spec.descriptions).format(
            season=rng.pick(SEASONS), folder=folder(rng), n=rng.between(1, 60)
        )
        chosen = payload(rng, kind, company, items)
        submit = Submit(
            at=self.clock.at(t0),
            company=company.handle,
            name=name,
            payload=chosen,
            user_email=email,
            locale=locale,
            description=description,
        )
        return RunPlan(seq, t0, kind, fate, company, email, items, getattr(chosen, "overwrite", None), submit)

    def kind_and_fate(self, seq: int, t0: int) -> tuple[str, str]:
        rng = self.rng
        forced_kinds, forced_fates = self.forced_kinds, self.forced_fates
        if seq < len(forced_kinds):
            kind = forced_kinds[seq]
            fate = rng.weighted(BODY_FATES)
            if fate == "warnings" and KINDS[kind].warning is None:
                fate = "success"
            return kind, fate
        if seq < len(forced_kinds) + len(forced_fates):
            fate = forced_fates[seq - len(forced_kinds)]
        else:
            fate = rng.weighted(TAIL_FATES if t0 >= DAY_MS - TAIL_MS else BODY_FATES)
        return rng.weighted(WARNING_KIND_TABLE if fate == "warnings" else KIND_TABLE), fate
