"""A seeded, realistic day of IPS jobs as ledger commands: the workload of `jobledger demo`.

`demo_commands` is pure: the same arguments give the same commands, in the same batches. It
simulates one day from `start`: jobs of every payload kind are submitted by the users of several
companies, wait for one of four servers, report progress with task rows, write job-log detail
rows per file (successes, warnings, errors, duplicates, updates, cancels), and end in success,
warnings, errors, a fatal error or a stop; some are deleted; uploads that name a follow-on
publish start it when they complete (the ledger creates it; the demo then drives it). About a
tenth of the runs are still New, Running or Stopping when the day ends, most of them submitted in
the rush of its last 45 minutes, a few stuck for hours.

Every command carries its time. Commands come out in time order across all jobs (a job's
commands may fall into a later batch than its Submit); a job's own times never decrease and its
Submit comes first. The handle of a run is computed as the ledger computes it (the submitted name
plus the UTC second, counter 1): job names carry a sequence number, so they are unique.

`record_demo` records that day together with its schedules: early on, the busiest companies
create recurring schedules (Quartz and 5-field rules, in several zones) and one-off ones; some
are paused, one is resumed, one deleted and one executed by hand; a scheduler tick every hour
fires what is due. The runs a schedule fires are read back from the states the ledger returns
(the schedule's lastRunHandle), not computed, and then driven like the others. It needs the
ledger's answers, so it records as it goes; with the same arguments it makes the same batches.
"""

from __future__ import annotations

import random
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from heapq import heappop, heappush
from typing import Any, Generic, NamedTuple, TypeVar

import msgspec

from jobledger.domain.aggregates import Aggregate
from jobledger.domain.commands import (
    Command,
    Complete,
    Delete,
    Execute,
    Fire,
    JobCommand,
    LogDetail,
    Pause,
    RequestStop,
    Resume,
    Start,
    Submit,
    UpdateProgress,
)
from jobledger.domain.constants import EmailSetting, ExportFormat, PublishType, TaskState
from jobledger.domain.decider import FOLLOW_ON_PREFIX
from jobledger.domain.events import JobLogDetailAux, TaskItemProgress, TaskProgress
from jobledger.domain.handles import run_handle, run_name, schedule_handle
from jobledger.domain.payloads import (
    OPENING_LOG_TYPES,
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
    job_type,
)
from jobledger.domain.schedule import Schedule

T = TypeVar("T")


class Weighted(Generic[T]):
    """Values to draw with the given relative weights."""

    def __init__(self, values: Sequence[T], weights: Sequence[float]) -> None:
        self.values = tuple(values)
        self.cumulative: list[float] = []
        total = 0.0
        for weight in weights:
            total += weight
            self.cumulative.append(total)
        self.total = total


class Dice:
    """Seeded draws built on random.Random.random() alone.

    randint, choice, choices and sample of random.Random cost microseconds each; a demo of 100,000
    jobs makes millions of draws, so these do the same from one random() call per draw.
    """

    def __init__(self, seed: int | str) -> None:
        source = random.Random(seed)
        self.random = source.random
        self.shuffle = source.shuffle
        self.expovariate = source.expovariate

    def between(self, low: int, high: int) -> int:
        """An integer from low to high, both included."""
        return low + int(self.random() * (high - low + 1))

    def chance(self, probability: float) -> bool:
        return self.random() < probability

    def pick(self, values: Sequence[T]) -> T:
        return values[int(self.random() * len(values))]

    def weighted(self, table: Weighted[T]) -> T:
        index = bisect_right(table.cumulative, self.random() * table.total)
        return table.values[min(index, len(table.values) - 1)]

    def sample(self, values: Sequence[T], k: int) -> list[T]:
        """k distinct elements (all of them if there are fewer), in random order."""
        n = len(values)
        k = min(k, n)
        if n > 4 * k:
            chosen: dict[int, None] = {}
            while len(chosen) < k:
                chosen[int(self.random() * n)] = None
            return [values[i] for i in chosen]
        pool = list(values)
        for i in range(k):
            j = i + int(self.random() * (n - i))
            pool[i], pool[j] = pool[j], pool[i]
        return pool[:k]


DAY_MS = 24 * 3600 * 1000
# Runs per batch: fewer, larger transactions write far less (each commit rewrites the index pages
# it touched) at the cost of memory; 5000 runs are about 57,000 commands.
BATCH_JOBS = 5000
# The day ends in a rush: a tenth of the runs are submitted in its last 45 minutes, and most
# of those are still waiting or running when it ends.
TAIL_MS = 45 * 60 * 1000
TAIL_SHARE = 0.1
SERVERS = ("ips-1", "ips-2", "ips-3", "ips-4")

COMPANY_NAMES = (
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "wonka",
    "stark",
    "tyrell",
    "soylent",
    "cyberdyne",
    "oscorp",
    "vandelay",
)
FIRST_COMPANY_NUMBER = 47  # companies beyond the named ones get IPS-style numeric handles
_LOCALES = ("en-US", "en-GB", "de-DE", "fr-FR", "ja-JP", "es-ES", "it-IT", "nl-NL", "pt-BR")
_USERS = ("dana.ortiz", "lee.chen", "sam.taylor", "priya.nair", "marco.rossi", "yuki.sato", "ops")
_OPERATORS = ("ops", "dana.ortiz", "lee.chen")
_EMAIL_SETTINGS: tuple[EmailSetting, ...] = ("ErrorAndWarning", "All", "Error", "JobCompletion", "None")
_EMAIL_TABLE = Weighted(_EMAIL_SETTINGS, (35, 20, 20, 15, 10))
_PUBLISH_TYPES: tuple[PublishType, ...] = ("Incremental", "Full", "FullWithSearch")
_PUBLISH_TABLE = Weighted(_PUBLISH_TYPES, (70, 20, 10))

# --- what a run ends as ------------------------------------------------------------------------


def _fates(weights: dict[str, float]) -> Weighted[str]:
    return Weighted(list(weights), list(weights.values()))


DONE_FATES = ("success", "warnings", "errors", "fatal", "stopped", "stopped-new", "deleted", "deleted-live")
LIVE_FATES = ("live-new", "live-running", "live-stopping")
_BODY_FATES = _fates(
    {
        "success": 56.0,
        "warnings": 14.0,
        "errors": 10.0,
        "fatal": 5.0,
        "stopped": 5.0,
        "stopped-new": 1.5,
        "deleted": 4.0,
        "deleted-live": 1.0,
        "live-new": 0.5,
        "live-running": 0.8,
        "live-stopping": 0.2,
    }
)
_TAIL_FATES = _fates(
    {
        "live-new": 25.0,
        "live-running": 48.0,
        "live-stopping": 7.0,
        "success": 12.0,
        "warnings": 3.0,
        "errors": 2.0,
        "fatal": 1.0,
        "stopped": 1.0,
        "deleted-live": 1.0,
    }
)


class Asset(NamedTuple):
    """A company's asset that jobs upload, publish, reprocess or export."""

    name: str
    type: str
    handle: str


class Company(NamedTuple):
    """A demo company: handle, mail domain, users, locale and assets by group."""

    handle: str
    domain: str
    users: tuple[str, ...]
    locale: str
    assets: dict[str, list[Asset]]


class Kind(NamedTuple):
    """How runs of one payload kind look: names, assets, sizes, log types and task names."""

    weight: int
    stems: tuple[str, ...]
    groups: tuple[str, ...]
    items: tuple[int, int]
    step_ms: tuple[int, int]
    warning: str | None
    task: str
    unit: str
    verb: str
    descriptions: tuple[str, ...]


KINDS: dict[str, Kind] = {
    "imageServingPublishJob": Kind(
        20,
        ("CatalogPublish", "NightlyPublish", "HomepagePublish", "ProductImagesPublish", "SalePublish"),
        ("image", "image", "set", "other"),
        (2, 8),
        (300, 4000),
        "ImageServingPublishWarning",
        "ImageServingPublish",
        "assets",
        "Published {name} to Image Serving",
        ("Publish new and changed product images", "Publish for the {season} campaign", ""),
    ),
    "imageRenderingPublishJob": Kind(
        5,
        ("RenderSetPublish", "RoomScenesPublish", "FabricsPublish"),
        ("render",),
        (1, 5),
        (1000, 8000),
        None,
        "ImageRenderingPublish",
        "render sets",
        "Published {name} to Image Rendering",
        ("Publish room scenes and fabrics", "Publish vignettes for the configurator"),
    ),
    "videoPublishJob": Kind(
        8,
        ("VideoPublish", "CampaignVideos", "ProductVideos"),
        ("video",),
        (1, 4),
        (20_000, 180_000),
        "VideoPublishWarning",
        "VideoTranscode",
        "videos",
        "Transcoded and published {name}",
        ("Publish {season} campaign videos", "Publish product videos", ""),
    ),
    "serverDirectoryPublishJob": Kind(
        4,
        ("ServerDirPublish", "PartnerFeedPublish", "PrintAssetsPublish"),
        ("image", "pdf"),
        (2, 6),
        (500, 5000),
        "ServerDirectoryPublishWarning",
        "ServerDirectoryPublish",
        "files",
        "Copied {name} to the server directory",
        ("Publish assets marked ready to the partner feed", "Print assets for the {season} catalog"),
    ),
    "metadataPublishJob": Kind(
        5,
        ("MetadataPublish", "KeywordsRefresh", "XmpSync"),
        ("image", "video"),
        (2, 6),
        (200, 2000),
        None,
        "MetadataPublish",
        "assets",
        "Published metadata of {name}",
        ("Publish changed metadata", "Republish keywords after the taxonomy change", ""),
    ),
    "uploadDirectoryJob": Kind(
        15,
        ("HotfolderUpload", "FtpUpload", "StudioUpload", "SeasonUpload"),
        ("image", "image", "image", "video", "pdf", "other"),
        (2, 8),
        (1500, 15_000),
        "UploadWarning",
        "Upload",
        "files",
        "Uploaded {name}",
        ("Upload from {folder}", "Studio shoot {season}, day {n}", "Supplier drop from {folder}"),
    ),
    "uploadUrlsJob": Kind(
        12,
        ("UrlUpload", "SupplierImport", "PimSync"),
        ("image",),
        (2, 8),
        (1000, 12_000),
        "UploadWarning",
        "UrlTransfer",
        "URLs",
        "Fetched and uploaded {name}",
        ("Import supplier images from the PIM", "Fetch images listed in feed {n}", ""),
    ),
    "optimizeImagesJob": Kind(
        6,
        ("OptimizeRemaining", "NightlyOptimize"),
        ("image",),
        (2, 6),
        (800, 6000),
        None,
        "ImageOptimization",
        "images",
        "Optimized {name}",
        ("Optimize the remaining unoptimized images", ""),
    ),
    "ripPdfsJob": Kind(
        2,
        ("RipCatalogPdfs", "PdfRip"),
        ("pdf",),
        (1, 4),
        (5000, 40_000),
        "UploadWarning",
        "PdfRip",
        "PDFs",
        "Ripped {name} into page images",
        ("Rip the {season} catalog PDFs", "Rip spec sheets"),
    ),
    "reprocessAssetsJob": Kind(
        6,
        ("Reprocess", "ReprocessAssets", "RecropImages"),
        ("image", "image", "pdf"),
        (2, 6),
        (1000, 8000),
        "UploadWarning",
        "Reprocess",
        "assets",
        "Reprocessed {name}",
        ("Reprocess after the crop settings changed", "Re-rip and re-optimize flagged assets", ""),
    ),
    "createVideoSitemapJob": Kind(
        2,
        ("VideoSitemap", "SitemapRefresh"),
        ("video",),
        (1, 4),
        (500, 3000),
        "VideoPublishWarning",
        "VideoSitemap",
        "videos",
        "Added {name} to the video sitemap",
        ("Refresh the video sitemap", ""),
    ),
    "exportJob": Kind(
        8,
        ("Export", "AgencyExport", "MarketplaceExport", "ArchiveExport"),
        ("image", "image", "video"),
        (2, 8),
        (500, 5000),
        None,
        "Export",
        "assets",
        "Exported {name}",
        ("Export for the agency", "Marketplace listing images", "Archive of the {season} campaign"),
    ),
    "automatedSetGenerationJob": Kind(
        5,
        ("AutoSets", "SetGeneration", "SpinSetBuild"),
        ("image",),
        (2, 8),
        (300, 3000),
        None,
        "SetGeneration",
        "images",
        "Added {name} to a generated set",
        ("Build image sets from the new shoot", "Spin sets for {season}", ""),
    ),
}
KIND_NAMES = tuple(KINDS)
_KIND_TABLE = Weighted(KIND_NAMES, [k.weight for k in KINDS.values()])
_WARNING_KINDS = tuple(name for name, k in KINDS.items() if k.warning is not None)
_WARNING_KIND_TABLE = Weighted(_WARNING_KINDS, [KINDS[name].weight for name in _WARNING_KINDS])
_FOLLOW_ON_FATES = Weighted(("success", "warnings", "errors", "fatal"), (80, 12, 6, 2))
_UPLOAD_KINDS = frozenset({"uploadDirectoryJob", "uploadUrlsJob", "ripPdfsJob", "reprocessAssetsJob"})
# Runs that create assets: a file that fails there never gets an asset handle.
_NEW_ASSET_KINDS = frozenset({"uploadDirectoryJob", "uploadUrlsJob"})

_SEASONS = ("spring-2027", "summer-2027", "fall-2026", "holiday-2026", "back-to-school")
_FOLDERS = ("incoming", "studio/shoot-{n}", "suppliers/northwind", "suppliers/contoso", "season/{season}")

_WARNINGS = (
    "Image is larger than 25 megapixels; downsampled for serving",
    "Embedded color profile not recognised; sRGB assumed",
    "No XMP metadata found; defaults applied",
    "File name contains spaces; stored with underscores",
    "Clipping path ignored: more than one path in the file",
    "Video bitrate above the preset; re-encoded at 5 Mbps",
)
_ERRORS = (
    "Unsupported file format",
    "Corrupt JPEG data: premature end of data segment",
    "Timed out after 120 s reading the source",
    "Source returned HTTP 404",
    "Permission denied reading the source file",
    "PDF is password protected",
    "Asset is locked by another job",
)
_FATALS = (
    "Out of disk space on /ips/data",
    "Lost connection to the catalog database",
    "Image Serving publish target unreachable: connection refused",
    "Transcoding service unavailable after 3 retries",
    "Job exceeded its 4 hour limit",
)
_STOP_REASONS = (
    "Wrong folder selected",
    "Superseded by a newer publish",
    "Running into business hours",
    "Requested by the account owner",
    "Duplicate of a job already running",
)

# Asset groups: (types, weight in the pool, IPS asset-type code in the handle)
_GROUPS: dict[str, tuple[tuple[str, ...], int, int]] = {
    "image": (("MasterImage",), 60, 1),
    "video": (("Video",), 10, 5),
    "pdf": (("Pdf",), 8, 4),
    "set": (("ImageSet", "SpinSet"), 10, 2),
    "render": (("Vignette", "RenderSet", "Cabinet", "WindowCovering", "Aco"), 6, 3),
    "other": (("Template", "Watermark", "Svg", "Font", "IccProfile", "ViewerConfigXml"), 6, 6),
}
_OTHER_NAMES = {
    "Template": "price-badge-{n}.psd",
    "Watermark": "watermark-{n}.png",
    "Svg": "icon-{n}.svg",
    "Font": "BrandSans-{n}.otf",
    "IccProfile": "press-profile-{n}.icc",
    "ViewerConfigXml": "viewer-config-{n}.xml",
}


def _asset_name(rng: Dice, asset_type: str, n: int) -> str:
    sku = f"SKU-{rng.between(10000, 99999)}"
    if asset_type == "MasterImage":
        view = rng.pick(("main", "alt1", "alt2", "back", "detail", "swatch", "lifestyle"))
        return f"{sku}_{view}.{rng.pick(('tif', 'jpg', 'jpg', 'psd', 'png'))}"
    if asset_type == "Video":
        topic = rng.pick(("promo", "unboxing", "howto", "runway", "teaser", "review"))
        return f"{topic}-{n:03d}.{rng.pick(('mp4', 'mp4', 'mov'))}"
    if asset_type == "Pdf":
        return rng.pick((f"catalog-{rng.pick(_SEASONS)}-p{n:02d}.pdf", f"spec-sheet-{sku}.pdf"))
    if asset_type == "ImageSet":
        return f"{sku}_set"
    if asset_type == "SpinSet":
        return f"{sku}_spin"
    if asset_type in ("Vignette", "RenderSet", "Cabinet", "WindowCovering", "Aco"):
        room = rng.pick(("livingroom", "kitchen", "bedroom", "patio", "office"))
        return f"{room}-{asset_type.lower()}-{n:03d}"
    return _OTHER_NAMES[asset_type].format(n=n)


def make_companies(rng: Dice, count: int, pool: int) -> list[Company]:
    """`count` companies, each with users, a locale and `pool` assets spread over the groups."""
    companies = []
    total_weight = sum(weight for _, weight, _ in _GROUPS.values())
    for index in range(count):
        if index < len(COMPANY_NAMES):
            handle = COMPANY_NAMES[index]
            domain = f"{handle}.example.com"
            number = FIRST_COMPANY_NUMBER - len(COMPANY_NAMES) + index  # IPS companies are numbered
        else:
            number = FIRST_COMPANY_NUMBER + index - len(COMPANY_NAMES)
            handle = str(number)
            domain = f"company{number}.example.com"
        users = tuple(rng.sample(_USERS, rng.between(3, len(_USERS))))
        assets: dict[str, list[Asset]] = {}
        serial = 1000 + index * 100_000
        for group, (types, weight, code) in _GROUPS.items():
            items = []
            for n in range(max(3, pool * weight // total_weight)):
                asset_type = rng.pick(types)
                serial += 1
                items.append(
                    Asset(_asset_name(rng, asset_type, n + 1), asset_type, f"a|{number}|{code}|{serial}")
                )
            assets[group] = items
        companies.append(Company(handle, domain, users, _LOCALES[index % len(_LOCALES)], assets))
    return companies


class _Day:
    """The state of one simulated day: the random source, the companies, the start time."""

    def __init__(self, rng: Dice, companies: list[Company], start: datetime, jobs: int) -> None:
        self.rng = rng
        self.companies = companies
        # Some companies are much busier than others.
        self.company_table = Weighted(companies, [1.0 / (i + 1) ** 0.7 for i in range(len(companies))])
        self.start = start
        self.width = max(4, len(str(jobs)))

    def at(self, ms: int) -> datetime:
        return self.start + timedelta(0, ms // 1000, (ms % 1000) * 1000)

    def email(self, company: Company, user: str) -> str:
        return f"{user}@{company.domain}"

    # --- payloads ----------------------------------------------------------------------------

    def payload(self, kind: str, company: Company, items: list[Asset], seq: int) -> AnyPayload:
        rng = self.rng
        email: EmailSetting = rng.weighted(_EMAIL_TABLE)
        hook = f"https://hooks.{company.domain}/ips/job-complete" if rng.chance(0.25) else None
        handles = [a.handle for a in items]
        if kind == "imageServingPublishJob":
            publish: PublishType = rng.weighted(_PUBLISH_TABLE)
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
                serverDir=f"/ips/ftp/{company.handle}/{self.folder()}",
                overwrite=rng.chance(0.6),
                readyForPublish=rng.chance(0.7),
                includeSubfolders=rng.chance(0.4),
                createMask=rng.chance(0.15),
                processMetadataFiles=rng.chance(0.3),
                emailSetting=email,
                destFolder=self.dest_folder(company),
                preserveCrop=True if rng.chance(0.2) else None,
                xmpKeywords=f"{rng.pick(_SEASONS)},catalog" if rng.chance(0.15) else None,
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
                destFolder=self.dest_folder(company),
            )
        if kind == "optimizeImagesJob":
            return OptimizeImagesJob(emailSetting=email)
        if kind == "ripPdfsJob":
            return RipPdfsJob(
                pdfHandleArray=handles,
                createMask=rng.chance(0.1),
                emailSetting=email,
                postHttpUrl=hook,
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
                destFolder=self.dest_folder(company),
            )
        raise ValueError(f"unknown payload kind {kind!r}")

    def folder(self) -> str:
        rng = self.rng
        return rng.pick(_FOLDERS).format(n=rng.between(1, 400), season=rng.pick(_SEASONS))

    def dest_folder(self, company: Company) -> str | None:
        rng = self.rng
        if rng.chance(0.3):
            return None
        category = rng.pick(("products", "campaigns", "lookbook", "marketplace"))
        return f"{company.handle}/{category}/{rng.pick(_SEASONS)}/"

    # --- one run -----------------------------------------------------------------------------

    def job(self, seq: int, t0: int, kind: str, fate: str) -> list[tuple[int, Command]]:
        """The commands of one run submitted at t0 (ms into the day), up to the end of the day.

        An upload that names a follow-on publish starts it when it completes; the follow-on's
        commands are part of the list (the list is then not in time order; the caller sorts).
        """
        rng = self.rng
        spec = KINDS[kind]
        company = rng.weighted(self.company_table)
        user = rng.pick(company.users)
        email = self.email(company, user)
        items = rng.sample(company.assets[rng.pick(spec.groups)], rng.between(*spec.items))
        name = f"{rng.pick(spec.stems)}-{seq + 1:0{self.width}d}"
        submitted = self.at(t0)
        locale = company.locale if rng.chance(0.85) else rng.pick(_LOCALES)
        description = rng.pick(spec.descriptions).format(
            season=rng.pick(_SEASONS), folder=self.folder(), n=rng.between(1, 60)
        )
        payload = self.payload(kind, company, items, seq)
        submit = Submit(
            at=submitted,
            company=company.handle,
            name=name,
            payload=payload,
            user_email=email,
            locale=locale,
            description=description,
        )
        steps: list[tuple[int, Command]] = [(t0, submit)]
        handle = run_handle(company.handle, run_name(name, submitted))
        run = _Run(self, steps, handle, kind, items, t0, getattr(payload, "overwrite", None))
        results = self.drive(run, company, email, fate, seq)
        follow_on = getattr(payload, "postImageServingPublishJob", None)
        if (
            follow_on is not None
            and run.completed is not None
            and fate in ("success", "warnings", "errors", "deleted")
            and (not getattr(payload, "postJobOnlyIfFiles", False) or "ok" in results or "updated" in results)
        ):
            # The ledger creates the follow-on publish in the transaction that completes the
            # upload, named "Pub_" + the upload's name, with the completion's time.
            done = run.completed
            publish_handle = run_handle(company.handle, run_name(FOLLOW_ON_PREFIX + name, self.at(done)))
            publish_items = rng.sample(company.assets["image"], rng.between(2, 6))
            publish = _Run(self, steps, publish_handle, "imageServingPublishJob", publish_items, done, None)
            self.drive(publish, company, email, rng.weighted(_FOLLOW_ON_FATES), seq)
        return [step for step in steps if step[0] <= DAY_MS]

    def drive(self, run: _Run, company: Company, email: str, fate: str, seq: int) -> list[str]:
        """Add the commands of a submitted run's life, as its fate has it; the item results."""
        rng = self.rng
        if fate == "live-new":
            return []
        if fate == "stopped-new":
            run.wait(5_000, 600_000)
            operator = self.email(company, rng.pick(_OPERATORS))
            run.add(RequestStop, requested_by=operator, reason=rng.pick(_STOP_REASONS))
            return []
        run.start()
        total = len(run.items)
        unit = run.spec.unit
        # How far the run gets before it ends, is stopped or fails.
        reach = total
        if fate in ("stopped", "fatal", "deleted-live", "live-running", "live-stopping"):
            reach = rng.between(0, total - 1)
        if fate in ("live-running", "live-stopping") and DAY_MS - run.t < TAIL_MS:
            # Still at work when the day ends: the items done so far take it up to about now.
            run.pace = (DAY_MS - run.t) // (reach + 2)
        results = self.results(run.kind, fate, total, run.overwrite)
        progress_at = set(rng.sample(range(1, total + 1), rng.between(1, 2)))
        for index in range(reach):
            run.item(index, results[index])
            if index + 1 in progress_at:
                run.progress(index + 1)
        if fate == "live-running":
            return results
        if fate in ("stopped", "live-stopping"):
            operator = self.email(company, rng.pick(_OPERATORS))
            run.wait(2_000, 60_000)
            run.add(RequestStop, requested_by=operator, reason=rng.pick(_STOP_REASONS))
            for index in range(reach, min(total, reach + rng.between(1, 2))):
                run.cancel(index)
            if fate == "stopped":
                run.progress(reach, state="Stopping")
                run.end()
                run.complete(f"Stopped on request after {reach} of {total} {unit}")
            return results
        if fate == "fatal":
            message = rng.pick(_FATALS)
            if rng.chance(0.5):
                run.progress(reach, state="Failed")
            row = rng.chance(0.8)
            if row:
                run.wait(100, 5_000)
                run.log("FatalError", message)
            run.complete(message, fatal=not row or rng.chance(0.5))
            return results
        if fate == "deleted-live":
            run.wait(10_000, 600_000)
            run.add(Delete, requested_by=self.email(company, rng.pick(_OPERATORS)))
            return results
        if total not in progress_at:
            run.progress(total)
        if run.kind == "exportJob":
            run.wait(200, 3_000)
            package = Asset(f"export-{seq + 1}.zip", "Zip", "")
            run.log("ReturnSuccess", f"Export package ready: {package.name} ({total} assets)", package)
        run.end()
        run.complete(self.summary(results, unit))
        if fate == "deleted":
            run.wait(60_000, 3_600_000)
            run.add(Delete, requested_by=email)
        return results

    def results(self, kind: str, fate: str, total: int, overwrite: bool | None) -> list[str]:
        """What happens to each item: ok, warn, error, duplicate or updated."""
        rng = self.rng
        results = ["ok"] * total
        if kind in _UPLOAD_KINDS and overwrite is not None:
            for index in range(total):
                if rng.chance(0.12):
                    results[index] = "updated" if overwrite else "duplicate"
        if fate == "errors":
            for index in rng.sample(range(total), rng.between(1, min(2, total))):
                results[index] = "error"
        if (fate == "warnings" or (fate == "errors" and rng.chance(0.4))) and KINDS[kind].warning:
            candidates = [i for i, r in enumerate(results) if r != "error"] or [0]
            for index in rng.sample(candidates, min(len(candidates), rng.between(1, 2))):
                results[index] = "warn"
        return results

    @staticmethod
    def summary(results: list[str], unit: str) -> str:
        counts = {r: results.count(r) for r in ("ok", "warn", "error", "duplicate", "updated")}
        parts = [f"{len(results)} {unit}"]
        for key, label in (
            ("error", "errors"),
            ("warn", "warnings"),
            ("duplicate", "duplicates skipped"),
            ("updated", "updated"),
        ):
            if counts[key]:
                parts.append(f"{counts[key]} {label}")
        return "Completed: " + ", ".join(parts)


class _Run:
    """Builds the timed commands of one run (appending to a list shared with its follow-on)."""

    def __init__(
        self,
        day: _Day,
        steps: list[tuple[int, Command]],
        handle: str,
        kind: str,
        items: list[Asset],
        t0: int,
        overwrite: bool | None,
    ) -> None:
        self.day = day
        self.rng = day.rng
        self.random = day.rng.random
        self.steps = steps
        self.handle = handle
        self.kind = kind
        self.spec = KINDS[kind]
        self.items = items
        self.t = t0
        self.overwrite = overwrite
        self.completed: int | None = None
        self.pace: int | None = None
        self.begin = OPENING_LOG_TYPES[job_type(kind)]
        self.op = self.begin.removeprefix("Begin")

    def wait(self, low: int, high: int) -> None:
        self.t += low + int(self.random() * (high - low + 1))

    def add(self, cls: type[JobCommand], **fields: Any) -> None:
        """Append a command on this run at the current time."""
        self.steps.append((self.t, cls(at=self.day.at(self.t), handle=self.handle, **fields)))

    def log(
        self,
        log_type: str,
        message: str,
        asset: Asset | None = None,
        asset_handle: str | None = None,
        aux: list[JobLogDetailAux] | None = None,
    ) -> None:
        """Append a detail row at the current time (the commonest command, so built directly)."""
        t = self.t
        self.steps.append(
            (
                t,
                LogDetail(
                    at=self.day.at(t),
                    handle=self.handle,
                    log_type=log_type,
                    message=message,
                    asset_name=None if asset is None else asset.name,
                    asset_type=None if asset is None else asset.type,
                    asset_handle=asset_handle,
                    aux=aux or [],
                ),
            )
        )

    def start(self) -> None:
        rng = self.rng
        # Most runs find a free server within seconds; some queue for minutes.
        self.t += int(rng.expovariate(1 / 15_000)) + 300
        server = rng.pick(SERVERS)
        self.add(Start, server=server, total_size=len(self.items))
        self.wait(50, 800)
        self.log(self.begin, f"{self.op} started on {server}")
        if self.kind in _UPLOAD_KINDS and rng.chance(0.6):
            self.wait(5, 50)
            total = len(self.items)
            self.log("TotalFileCount", f"{total} files")

    def item(self, index: int, result: str) -> None:
        rng = self.rng
        asset = self.items[index]
        upload = self.kind in _UPLOAD_KINDS
        if upload and rng.chance(0.2):
            self.log("FileBegin", f"Processing {asset.name}", asset)
        low, high = self.spec.step_ms if self.pace is None else (self.pace * 7 // 10, self.pace)
        if self.kind == "videoPublishJob" and rng.chance(0.4):
            self.wait(low // 2, high // 2)
            self.log("FileProgress", f"Transcoding {asset.name}: 50%", asset, asset.handle)
        self.wait(low, high)
        log_type, message, handle = self.row(asset, result)
        aux = None
        if result in ("warn", "error") and rng.chance(0.3):
            aux_type = "UploadWarning" if result == "warn" else "UploadError"
            detail = rng.pick(_WARNINGS if result == "warn" else _ERRORS)
            aux = [JobLogDetailAux(logMessage=detail, logType=aux_type, dateCreated=self.day.at(self.t))]
        self.log(log_type, message, asset, handle, aux)
        if upload and rng.chance(0.1):
            self.wait(5, 200)
            self.log("FleEnd", f"Done with {asset.name}", asset)

    def row(self, asset: Asset, result: str) -> tuple[str, str, str | None]:
        """(logType, message, assetHandle) of an item's result row."""
        rng = self.rng
        op = "PdfRip" if self.kind == "reprocessAssetsJob" and asset.type == "Pdf" else self.op
        if self.kind in _NEW_ASSET_KINDS:
            op = "Upload"
        if self.kind == "uploadUrlsJob" and result in ("ok", "error"):
            op = "UploadUrls"
        if result == "ok":
            log_type = f"{op}Success"
            if log_type == "VideoPublishSuccess" and rng.chance(0.05):
                log_type = "VideoPubilshSuccess"  # IPS's own spelling, as its servers write it
            return log_type, self.spec.verb.format(name=asset.name), asset.handle
        if result == "warn":
            warning = self.spec.warning
            assert warning is not None
            return warning, f"{asset.name}: {rng.pick(_WARNINGS)}", asset.handle
        if result == "error":
            # A failed upload never became an asset, so it has no handle yet.
            handle = None if self.kind in _NEW_ASSET_KINDS else asset.handle
            return f"{op}Error", f"{asset.name}: {rng.pick(_ERRORS)}", handle
        if result == "duplicate":
            return "DuplicateSkipped", f"Skipped {asset.name}: an asset with this name exists", asset.handle
        return "FileUpdated", f"Replaced {asset.name} (overwrite)", asset.handle

    def cancel(self, index: int) -> None:
        asset = self.items[index]
        self.wait(200, 5_000)
        self.log("FileCancel", f"Cancelled {asset.name}: job stopped", asset)

    def progress(self, done: int, *, state: TaskState | None = None) -> None:
        total = len(self.items)
        unit = self.spec.unit
        task_state: TaskState = state or ("Done" if done == total else "Processing")
        processing = 0 if task_state != "Processing" else min(1, total - done)
        self.wait(5, 100)
        at = self.day.at(self.t)
        items = [
            TaskItemProgress(itemName=a.name, progress=1.0, progressMessage="done", lastProgressUpdate=at)
            for a in self.items[max(0, done - 2) : done]
        ]
        if processing:
            items.append(
                TaskItemProgress(
                    itemName=self.items[done].name,
                    progress=round(self.rng.random(), 2),
                    progressMessage="in progress",
                    lastProgressUpdate=at,
                )
            )
        tasks = [
            TaskProgress(
                taskType=self.spec.task,
                taskState=task_state,
                numProcessed=done,
                numProcessing=processing,
                numPending=total - done - processing,
                progress=round(done / total, 3),
                progressMessage=f"{done} of {total} {unit}",
                lastProgressUpdate=at,
                taskItemProgressArray=items,
            )
        ]
        if self.kind == "videoPublishJob":
            tasks.append(
                TaskProgress(
                    taskType="VideoPublish",
                    taskState=task_state,
                    numProcessed=done,
                    numPending=total - done,
                    progress=round(done / total, 3),
                    progressMessage=f"{done} of {total} renditions published",
                    lastProgressUpdate=at,
                )
            )
        message = f"Processed {done} of {total} {unit}"
        if state == "Stopping":
            message = f"Stopping after {done} of {total} {unit}"
        elif state == "Failed":
            message = f"Failed after {done} of {total} {unit}"
        self.add(UpdateProgress, percent=done * 100 // total, message=message, tasks=tasks)

    def end(self) -> None:
        self.wait(50, 1_000)
        end = "endReoptimize" if self.op == "Reoptimize" and self.rng.chance(0.1) else f"End{self.op}"
        self.log(end, f"{self.op} finished")

    def complete(self, message: str, *, fatal: bool = False) -> None:
        self.wait(50, 2_000)
        self.add(Complete, fatal=fatal, message=message)
        self.completed = self.t


def _time_of(entry: tuple[int, int, int, Command]) -> int:
    return entry[0]


def _new_day(jobs: int, companies: int, seed: int, start: datetime) -> tuple[Dice, _Day]:
    """The random source and the day of the runs (its companies drawn first)."""
    if jobs < 0:
        raise ValueError("jobs must be 0 or more")
    if companies < 1:
        raise ValueError("companies must be 1 or more")
    start = (start if start.tzinfo is not None else start.replace(tzinfo=UTC)).astimezone(UTC)
    rng = Dice(seed)
    pool = min(2000, max(40, jobs // companies // 4))
    return rng, _Day(rng, make_companies(rng, companies, pool), start, jobs)


def _job_batches(rng: Dice, day: _Day, jobs: int, batch_jobs: int) -> Iterator[tuple[int, list[Command]]]:
    """The runs' batches, each with a limit (ms into the day): its commands are at or before the
    limit, the commands of later batches at or after it."""
    times = sorted(
        DAY_MS - rng.between(1000, TAIL_MS) if rng.chance(TAIL_SHARE) else rng.between(0, DAY_MS - TAIL_MS)
        for _ in range(jobs)
    )
    # The first runs cover every payload kind, then every way a run can end.
    forced_kinds = list(KIND_NAMES)
    rng.shuffle(forced_kinds)
    forced_fates = [*DONE_FATES, *LIVE_FATES]
    rng.shuffle(forced_fates)
    pending: list[tuple[int, int, int, Command]] = []
    in_batch = 0
    for seq, t0 in enumerate(times):
        if seq < len(forced_kinds):
            kind = forced_kinds[seq]
            fate = rng.weighted(_BODY_FATES)
            if fate == "warnings" and KINDS[kind].warning is None:
                fate = "success"
        else:
            if seq < len(forced_kinds) + len(forced_fates):
                fate = forced_fates[seq - len(forced_kinds)]
            else:
                fate = rng.weighted(_TAIL_FATES if t0 >= DAY_MS - TAIL_MS else _BODY_FATES)
            kind = rng.weighted(_WARNING_KIND_TABLE if fate == "warnings" else _KIND_TABLE)
        for step, (ms, command) in enumerate(day.job(seq, t0, kind, fate)):
            pending.append((ms, seq, step, command))
        in_batch += 1
        if in_batch >= batch_jobs:
            # Everything before this submit time is final: later runs are submitted after it.
            pending.sort()
            cut = bisect_left(pending, t0, key=_time_of)
            if cut:
                yield t0, [entry[3] for entry in pending[:cut]]
                del pending[:cut]
            in_batch = 0
    pending.sort()
    size = batch_jobs * 12
    for offset in range(0, len(pending), size):
        following = offset + size
        limit = pending[following][0] if following < len(pending) else DAY_MS
        yield limit, [entry[3] for entry in pending[offset:following]]


def demo_commands(
    jobs: int, companies: int, seed: int, start: datetime, *, batch_jobs: int = BATCH_JOBS
) -> Iterator[list[Command]]:
    """The commands of `jobs` runs over the day from `start`, in batches of about `batch_jobs` runs.

    Record each batch in one transaction, in order. The same arguments give the same commands.
    These are the runs only; `record_demo` records them together with the day's schedules.
    """
    rng, day = _new_day(jobs, companies, seed, start)
    for _, batch in _job_batches(rng, day, jobs, batch_jobs):
        yield batch


# --- schedules ---------------------------------------------------------------------------------

_MS = timedelta(milliseconds=1)
HOUR_MS = 3600 * 1000
QUARTER_MS = HOUR_MS // 4
# Only the busiest companies keep schedules, so the schedule part stays small: tens of schedules
# and a few hundred runs however many companies the demo has.
SCHEDULE_COMPANIES = 6
# What a scheduled run ends as: most scheduled work is routine.
_SCHEDULED_FATES = _fates(
    {
        "success": 72.0,
        "warnings": 10.0,
        "errors": 7.0,
        "fatal": 3.0,
        "stopped": 3.0,
        "deleted": 2.0,
        "live-new": 1.0,
    }
)
# A one-off's time is absolute; its zone only says where it was meant.
_ONE_OFF_ZONES = ("UTC", "Europe/Berlin", "America/New_York")
_FIXED_ITEM_KINDS = frozenset({"uploadUrlsJob", "exportJob"})  # the payload names the items


class _Plan(NamedTuple):
    """What the runs of one demo schedule need."""

    company: Company
    email: str
    kind: str
    items: list[Asset] | None  # the payload's own items; None: each run draws its own
    created: int
    overwrite: bool | None


class _Schedules:
    """The schedules of the demo day and the scheduler ticking over it.

    Early in the day each company creates recurring schedules (Quartz and 5-field rules, in
    several zones) and one-off ones; later some are paused, one is resumed, one deleted and one
    executed by hand. A scheduler tick at every whole hour (UTC) fires each schedule: a Fire is a
    no-op unless the schedule is due, so each due fire time makes one run. Commands come out in
    time order, in batches that end at a tick or an execute; the states the ledger returns for a
    batch name the runs it fired (the schedule's lastRunHandle), which are then driven like the
    other runs.
    """

    def __init__(self, companies: list[Company], seed: int, start: datetime, jobs: int) -> None:
        # Draws of their own, so the runs' commands are exactly those of demo_commands.
        self.rng = Dice(f"schedules/{seed}")
        self.day = _Day(self.rng, companies, start, jobs)
        self.pending: list[tuple[int, int, Command]] = []  # a heap of (ms, order, command)
        self.order = 0
        self.plans: dict[str, _Plan] = {}  # by schedule handle
        self.runs: dict[str, int] = {}  # runs fired so far, by schedule handle
        self.ticks: set[int] = set()
        self.points: list[int] = []  # the ticks and executes, each ending a batch
        self.next = 0
        self.fired = 0
        # The day's start in ms past the hour, to place times on the wall clock.
        self.skew = (start.minute * 60 + start.second) * 1000 + start.microsecond // 1000
        chosen = companies[:SCHEDULE_COMPANIES]
        for index, company in enumerate(chosen):
            self.company_schedules(index, len(chosen), company)
        first = (HOUR_MS - self.skew) % HOUR_MS
        for hour in range(first, DAY_MS + 1, HOUR_MS):
            # A tick started by cron on the hour takes a few seconds to get going.
            tick = hour + self.rng.between(1_000, 9_000)
            if tick <= DAY_MS:
                self.ticks.add(tick)
        self.points = sorted({*self.points, *self.ticks})

    def push(self, ms: int, command: Command) -> None:
        self.order += 1
        heappush(self.pending, (ms, self.order, command))

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
    ) -> str:
        """Add the Submit of a schedule; its handle."""
        rng = self.rng
        spec = KINDS[kind]
        items = rng.sample(company.assets[rng.pick(spec.groups)], rng.between(*spec.items))
        payload = self.day.payload(kind, company, items, 0)
        if isinstance(payload, UploadDirectoryJob):
            # A sweep of the hot folder; the company publishes on a schedule of its own.
            payload = msgspec.structs.replace(
                payload,
                serverDir=f"/ips/ftp/{company.handle}/hotfolder",
                postImageServingPublishJob=None,
                postJobOnlyIfFiles=False,
            )
        if isinstance(payload, ImageServingPublishJob) and publish is not None:
            payload = msgspec.structs.replace(payload, publishType=publish)
        email = self.day.email(company, rng.pick(company.users))
        self.push(
            ms,
            Submit(
                at=self.day.at(ms),
                company=company.handle,
                name=name,
                payload=payload,
                user_email=email,
                locale=company.locale,
                description=description,
                exec_time=None if exec_ms is None else self.day.at(exec_ms),
                exec_schedule=rule,
                time_zone=rng.pick(zones),
            ),
        )
        handle = schedule_handle(company.handle, name)
        fixed = items if kind in _FIXED_ITEM_KINDS else None
        self.plans[handle] = _Plan(company, email, kind, fixed, ms, getattr(payload, "overwrite", None))
        return handle

    def operate(self, cls: type[Pause | Resume | Delete], company: Company, handle: str, ms: int) -> None:
        operator = self.day.email(company, self.rng.pick(_OPERATORS))
        self.push(ms, cls(at=self.day.at(ms), handle=handle, requested_by=operator))

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
        self.operate(Pause, company, price, rng.between(2 * hours, 8 * hours))
        if index % 3 == 1:
            self.operate(Pause, company, catalog, rng.between(6 * hours, 10 * hours))
        if index == 0:
            # Paused for a few hours and resumed: the missed fire times then fire once.
            self.operate(Pause, company, sweep, rng.between(6 * hours, 8 * hours))
            self.operate(Resume, company, sweep, rng.between(11 * hours, 13 * hours))
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
            self.operate(Delete, company, partner, rng.between(13 * hours, 15 * hours))
        if index == 2 % count:
            # Tonight's full publish, run by hand now: the trigger stays as it is.
            ms = rng.between(9 * hours, 12 * hours)
            self.push(ms, Execute(at=self.day.at(ms), handle=nightly))
            self.points.append(ms)

    @property
    def point(self) -> int | None:
        """When the next batch ends (a tick or an execute), if any is left."""
        return self.points[self.next] if self.next < len(self.points) else None

    def take(self) -> list[Command]:
        """The next batch: every command up to the next point, with the point's Fire commands."""
        point = self.points[self.next]
        self.next += 1
        if point in self.ticks:
            at = self.day.at(point)
            for handle, plan in self.plans.items():
                if plan.created < point:
                    self.push(point, Fire(at=at, handle=handle))
        return self.until(point)

    def until(self, limit: int) -> list[Command]:
        batch = []
        pending = self.pending
        while pending and pending[0][0] <= limit:
            batch.append(heappop(pending)[2])
        return batch

    def rest(self) -> list[Command]:
        """What is left when the last point has passed, up to the end of the day."""
        return self.until(DAY_MS)

    def learn(self, batch: Sequence[Command], states: Sequence[Aggregate]) -> None:
        """Drive the runs that the batch's Fire and Execute commands created."""
        for command, state in zip(batch, states, strict=True):
            if not isinstance(command, (Fire, Execute)) or not isinstance(state, Schedule):
                continue
            if state.runCount <= self.runs.get(state.jobHandle, 0) or state.lastRunHandle is None:
                continue  # not due
            self.runs[state.jobHandle] = state.runCount
            assert command.at is not None
            self.drive(state.jobHandle, state.lastRunHandle, (command.at - self.day.start) // _MS)

    def drive(self, schedule: str, handle: str, t0: int) -> None:
        """Add the commands of a fired run's life, up to the end of the day."""
        rng = self.rng
        plan = self.plans[schedule]
        spec = KINDS[plan.kind]
        items = plan.items or rng.sample(plan.company.assets[rng.pick(spec.groups)], rng.between(*spec.items))
        fate = rng.weighted(_SCHEDULED_FATES)
        if fate == "warnings" and spec.warning is None:
            fate = "success"
        steps: list[tuple[int, Command]] = []
        run = _Run(self.day, steps, handle, plan.kind, items, t0, plan.overwrite)
        self.day.drive(run, plan.company, plan.email, fate, self.fired)
        self.fired += 1
        for ms, command in steps:
            if ms <= DAY_MS:
                self.push(ms, command)


def record_demo(
    record: Callable[[list[Command]], Sequence[Aggregate]],
    jobs: int,
    companies: int,
    seed: int,
    start: datetime,
    *,
    batch_jobs: int = BATCH_JOBS,
) -> Iterator[tuple[list[Command], Sequence[Aggregate]]]:
    """Record the whole demo day through `record` (JobLedger.record), batch by batch; yield each
    batch with the states it returned.

    The day is the runs of `demo_commands` and the schedules: their batches come between the
    runs' batches, in time order among themselves. A schedule batch ends at a scheduler tick or
    an execute, and the runs it fires are read from the states `record` returns for it before
    the next one is made. The same arguments give the same batches.
    """
    rng, day = _new_day(jobs, companies, seed, start)
    schedules = _Schedules(day.companies, seed, day.start, jobs)

    def up_to(limit: int) -> Iterator[tuple[list[Command], Sequence[Aggregate]]]:
        while (point := schedules.point) is not None and point <= limit:
            batch = schedules.take()
            if batch:
                states = record(batch)
                schedules.learn(batch, states)
                yield batch, states

    for limit, batch in _job_batches(rng, day, jobs, batch_jobs):
        yield from up_to(limit)
        yield batch, record(batch)
    yield from up_to(DAY_MS)
    rest = schedules.rest()
    if rest:
        yield rest, record(rest)
