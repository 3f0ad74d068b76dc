"""IPS string constants (reference/ips-jobs.md section 4) and tolerant parsing of log types."""

from __future__ import annotations

from typing import Literal, get_args

EmailSetting = Literal["All", "Error", "ErrorAndWarning", "JobCompletion", "None"]
PublishType = Literal["Full", "FullWithSearch", "Incremental"]
ExportFormat = Literal["orig", "convert"]
JobState = Literal["New", "Running", "Stopping", "Done"]
TaskState = Literal["Unknown", "New", "Processing", "Stopping", "Done", "Failed"]
Outcome = Literal["success", "warnings", "errors", "fatal", "stopped"]

JOB_STATES: tuple[str, ...] = get_args(JobState)
OUTCOMES: tuple[str, ...] = get_args(Outcome)

# JobLog.jobSubType is only set for image-serving publishes, in its own lower-case spelling.
JOB_SUB_TYPES: dict[str, str] = {
    "Full": "full",
    "Incremental": "increment",
    "FullWithSearch": "fullwithsearch",
}

ASSET_TYPES: frozenset[str] = frozenset(
    [
        "NoType",
        "PublishCatalog",
        "OptimizedImage",
        "MasterImage",
        "SealedImage",
        "Mask",
        "Vignette",
        "Thumbnail",
        "ImageMap",
        "IccProfile",
        "Font",
        "Xsl",
        "Cabinet",
        "WindowCovering",
        "Video",
        "ViewerSwf",
        "Icon",
        "VideoEncodingXml",
        "ViewerConfigXml",
        "Template",
        "Catalog",
        "Xml",
        "ImageSet",
        "RenderSet",
        "SpinSet",
        "Svg",
        "Watermark",
        "Pdf",
        "Aco",
        "PsdTemplate",
        "Zip",
    ]
)


def _family(op: str, *, failure: bool = False, warning: bool = False) -> list[str]:
    values = [f"Begin{op}", f"End{op}", f"{op}Success", f"{op}Failure" if failure else f"{op}Error"]
    if warning:
        values.append(f"{op}Warning")
    return values


_LOG_TYPES: list[str] = [
    *_family("ImageServingPublish", warning=True),
    *_family("ImageServingPublishCleanup"),
    *_family("ImageRenderingPublish"),
    *_family("ImageRenderingPublishCleanup"),
    *_family("VideoPublish", warning=True),
    *_family("VideoPublishCleanup"),
    *_family("ServerDirectoryPublish", warning=True),
    *_family("Upload", warning=True),
    *_family("UploadUrls"),
    *_family("AssetMigration"),
    *_family("Delete", failure=True),
    *_family("EmptyTrash"),
    *_family("RestoreTrash"),
    *_family("Trash", warning=True),
    *_family("MarkForPublish"),
    *_family("UnmarkForPublish"),
    *_family("Metadata"),
    *_family("PdfRip"),
    *_family("PublishToCm"),
    *_family("PublishToWc"),
    *_family("Reoptimize"),
    *_family("TemplateMerge"),
    "GetFailure",
    "ReturnSuccess",
    "FileBegin",
    "FileProgress",
    "FileUpdated",
    "FileCancel",
    "FleEnd",
    "FileEnd",
    "DuplicateSkipped",
    "FatalError",
    "RecoverTrashSuccess",
    "InitiatingJobName",
    "JobClient",
    "JobType",
    "OriginalJobName",
    "TotalFileCount",
]

# IPS publishes these misspellings as real values; runners copy them, so accept them as spelled
# and also under the spelling IPS meant.
_MISSPELLINGS: dict[str, str] = {
    "FleEnd": "FileEnd",
    "BeginVideoPubl]ish": "BeginVideoPublish",
    "VideoPubilshSuccess": "VideoPublishSuccess",
    "endReoptimize": "EndReoptimize",
    "ImageServingPublishCleanupsuccess": "ImageServingPublishCleanupSuccess",
    "ImageRenderingPublishCleanupsuccess": "ImageRenderingPublishCleanupSuccess",
    "VideoPublishCleanupsuccess": "VideoPublishCleanupSuccess",
}

LOG_TYPES: frozenset[str] = frozenset(_LOG_TYPES) | frozenset(_MISSPELLINGS)
_BY_FOLDED: dict[str, str] = {value.casefold(): value for value in _LOG_TYPES}
for _typo in _MISSPELLINGS:
    # A typo that folds onto a correct spelling (endReoptimize) must not shadow it.
    _BY_FOLDED.setdefault(_typo.casefold(), _typo)


def parse_log_type(value: str) -> str | None:
    """The log type as IPS spells it: as given if exact, else matched without regard to case."""
    value = value.strip()
    if value in LOG_TYPES:
        return value
    return _BY_FOLDED.get(value.casefold())


def canonical_log_type(value: str) -> str:
    """The intended spelling of a known log type (IPS's typos mapped to what they mean)."""
    return _MISSPELLINGS.get(value, value)


def is_transfer_type(log_type: str) -> bool:
    """Rows of the URL-upload family count as transfers, not files."""
    return canonical_log_type(log_type).removeprefix("Begin").removeprefix("End").startswith("UploadUrls")
