"""What the demo day is made of: seeded dice, the day's clock, the companies and their assets, the
messages servers write, and how runs end (weighted tables of fates)."""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Generic, NamedTuple, TypeVar

from jobledger.domain.constants import EmailSetting, PublishType

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


# --- the day ----------------------------------------------------------------------------------

DAY_MS = 24 * 3600 * 1000
HOUR_MS = 3600 * 1000
_MS = timedelta(milliseconds=1)


class Clock:
    """The demo day's times: milliseconds into the day and the UTC datetimes commands carry."""

    def __init__(self, start: datetime) -> None:
        self.start = start

    def at(self, ms: int) -> datetime:
        return self.start + timedelta(0, ms // 1000, (ms % 1000) * 1000)

    def ms(self, at: datetime | None) -> int:
        """Milliseconds into the day of a command's time."""
        assert at is not None, "every demo command carries its time"
        return (at - self.start) // _MS


# --- companies and their assets ---------------------------------------------------------------

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
LOCALES = ("en-US", "en-GB", "de-DE", "fr-FR", "ja-JP", "es-ES", "it-IT", "nl-NL", "pt-BR")
_USERS = ("dana.ortiz", "lee.chen", "sam.taylor", "priya.nair", "marco.rossi", "yuki.sato", "ops")
OPERATORS = ("ops", "dana.ortiz", "lee.chen")
_EMAIL_SETTINGS: tuple[EmailSetting, ...] = ("ErrorAndWarning", "All", "Error", "JobCompletion", "None")
EMAIL_TABLE = Weighted(_EMAIL_SETTINGS, (35, 20, 20, 15, 10))
_PUBLISH_TYPES: tuple[PublishType, ...] = ("Incremental", "Full", "FullWithSearch")
PUBLISH_TABLE = Weighted(_PUBLISH_TYPES, (70, 20, 10))
SEASONS = ("spring-2027", "summer-2027", "fall-2026", "holiday-2026", "back-to-school")
FOLDERS = ("incoming", "studio/shoot-{n}", "suppliers/northwind", "suppliers/contoso", "season/{season}")


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

    def email(self, user: str) -> str:
        return f"{user}@{self.domain}"


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
        return rng.pick((f"catalog-{rng.pick(SEASONS)}-p{n:02d}.pdf", f"spec-sheet-{sku}.pdf"))
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
        companies.append(Company(handle, domain, users, LOCALES[index % len(LOCALES)], assets))
    return companies


# --- what servers write -----------------------------------------------------------------------

WARNINGS = (
    "Image is larger than 25 megapixels; downsampled for serving",
    "Embedded color profile not recognised; sRGB assumed",
    "No XMP metadata found; defaults applied",
    "File name contains spaces; stored with underscores",
    "Clipping path ignored: more than one path in the file",
    "Video bitrate above the preset; re-encoded at 5 Mbps",
)
ERRORS = (
    "Unsupported file format",
    "Corrupt JPEG data: premature end of data segment",
    "Timed out after 120 s reading the source",
    "Source returned HTTP 404",
    "Permission denied reading the source file",
    "PDF is password protected",
    "Asset is locked by another job",
)
FATALS = (
    "Out of disk space on /ips/data",
    "Lost connection to the catalog database",
    "Image Serving publish target unreachable: connection refused",
    "Transcoding service unavailable after 3 retries",
    "Job exceeded its 4 hour limit",
)
STOP_REASONS = (
    "Wrong folder selected",
    "Superseded by a newer publish",
    "Running into business hours",
    "Requested by the account owner",
    "Duplicate of a job already running",
)

# --- how a run ends: the demo's plan for it, which the ledger then records --------------------


def _fates(weights: dict[str, float]) -> Weighted[str]:
    return Weighted(list(weights), list(weights.values()))


DONE_FATES = ("success", "warnings", "errors", "fatal", "stopped", "stopped-new", "deleted", "deleted-live")
LIVE_FATES = ("live-new", "live-running", "live-stopping")
# The day ends in a rush: a tenth of the runs are submitted in its last 45 minutes, and most
# of those are still waiting or running when it ends.
TAIL_MS = 45 * 60 * 1000
TAIL_SHARE = 0.1
BODY_FATES = _fates(
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
TAIL_FATES = _fates(
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
FOLLOW_ON_FATES = Weighted(("success", "warnings", "errors", "fatal"), (80, 12, 6, 2))
# What a scheduled run ends as: most scheduled work is routine.
SCHEDULED_FATES = _fates(
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
