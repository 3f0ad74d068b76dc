"""The 13 submittable IPS job payloads (reference/ips-jobs.md section 3) as typed Structs.

Required fields are the XSD's required elements; enum fields are Literals, so decoding a payload
validates it. Each payload is tagged with its IPS element name (`kind`) so a Submitted event can
carry any of them.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeAlias

import msgspec

from .constants import EmailSetting, ExportFormat, PublishType
from .errors import RuleError
from .limits import explain

NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
Handles = Annotated[list[NonEmpty], msgspec.Meta(min_length=1)]


class Payload(
    msgspec.Struct, frozen=True, kw_only=True, gc=False, forbid_unknown_fields=True, tag_field="kind"
):
    """Base of all payloads; `kind` names the submitJob element."""


class _Publish(Payload, frozen=True, kw_only=True):
    emailSetting: EmailSetting
    httpCompletionUrl: str | None = None
    contextHandle: str | None = None


class ImageServingPublishJob(_Publish, frozen=True, kw_only=True, tag="imageServingPublishJob"):
    """Publish images to Image Serving."""

    publishType: PublishType


class ImageRenderingPublishJob(_Publish, frozen=True, kw_only=True, tag="imageRenderingPublishJob"):
    """Publish render sets to Image Rendering."""


class VideoPublishJob(_Publish, frozen=True, kw_only=True, tag="videoPublishJob"):
    """Publish videos."""


class ServerDirectoryPublishJob(Payload, frozen=True, kw_only=True, tag="serverDirectoryPublishJob"):
    """Publish assets marked ready to a server directory."""

    emailSetting: EmailSetting
    httpCompletionUrl: str | None = None


class MetadataPublishJob(Payload, frozen=True, kw_only=True, tag="metadataPublishJob"):
    """Publish metadata; forcePublish republishes all of it."""

    forcePublish: bool = False
    emailSetting: EmailSetting | None = None


class _FollowOn(Payload, frozen=True, kw_only=True):
    """Fields shared by the payloads that may start a follow-on publish and crop images."""

    postImageServingPublishJob: ImageServingPublishJob | None = None
    postImageRenderingPublishJob: ImageRenderingPublishJob | None = None
    postVideoPublishJob: VideoPublishJob | None = None
    postJobOnlyIfFiles: bool = False
    postHttpUrl: str | None = None
    manualCropOptions: dict[str, Any] | None = None
    autoColorCropOptions: dict[str, Any] | None = None
    autoTransparentCropOptions: dict[str, Any] | None = None


class UploadDirectoryJob(_FollowOn, frozen=True, kw_only=True, tag="uploadDirectoryJob"):
    """Upload the files of a server directory."""

    serverDir: NonEmpty
    overwrite: bool
    readyForPublish: bool
    includeSubfolders: bool
    createMask: bool
    processMetadataFiles: bool
    emailSetting: EmailSetting
    destFolder: str | None = None
    preserveCrop: bool | None = None
    xmpKeywords: str | None = None


class UploadUrlsJob(_FollowOn, frozen=True, kw_only=True, tag="uploadUrlsJob"):
    """Upload files fetched from URLs."""

    overwrite: bool
    readyForPublish: bool
    createMask: bool
    emailSetting: EmailSetting
    urlArray: list[NonEmpty] = msgspec.field(default_factory=list)
    destFolder: str | None = None
    preserveCrop: bool | None = None


class OptimizeImagesJob(Payload, frozen=True, kw_only=True, tag="optimizeImagesJob"):
    """Optimise the remaining unoptimised images."""

    emailSetting: EmailSetting


class RipPdfsJob(_FollowOn, frozen=True, kw_only=True, tag="ripPdfsJob"):
    """Rip PDFs into images (deprecated in IPS, still accepted)."""

    pdfHandleArray: Handles
    createMask: bool
    emailSetting: EmailSetting


class ReprocessAssetsJob(_FollowOn, frozen=True, kw_only=True, tag="reprocessAssetsJob"):
    """Re-rip PDFs and re-optimise images."""

    assetHandleArray: Handles
    createMask: bool
    emailSetting: EmailSetting
    preserveCrop: bool | None = None


class CreateVideoSitemapJob(Payload, frozen=True, kw_only=True, tag="createVideoSitemapJob"):
    """Build the company's video sitemap (restricted use in IPS)."""

    forceUpdate: bool = False
    emailSetting: EmailSetting | None = None


class ExportJob(Payload, frozen=True, kw_only=True, tag="exportJob"):
    """Export assets as originals or converted; sets cannot be exported."""

    assetHandleArray: Handles
    fmt: ExportFormat
    emailSetting: EmailSetting
    is_modifier: str | None = None
    macro: str | None = None
    clientId: str | None = None


class AutomatedSetGenerationJob(Payload, frozen=True, kw_only=True, tag="automatedSetGenerationJob"):
    """Generate image sets from up to 1000 assets."""

    assetHandleArray: Annotated[list[NonEmpty], msgspec.Meta(min_length=1, max_length=1000)]
    readyForPublish: bool
    autoSetCreationOptions: dict[str, Any]
    emailSetting: EmailSetting
    destFolder: str | None = None


AnyPayload: TypeAlias = (
    ImageServingPublishJob
    | ImageRenderingPublishJob
    | VideoPublishJob
    | ServerDirectoryPublishJob
    | MetadataPublishJob
    | UploadDirectoryJob
    | UploadUrlsJob
    | OptimizeImagesJob
    | RipPdfsJob
    | ReprocessAssetsJob
    | CreateVideoSitemapJob
    | ExportJob
    | AutomatedSetGenerationJob
)

# kind -> (payload type, IPS Job Types value). IPS documents no type for the newer payloads;
# those names (PdfRip onwards) are ours, in the same style, and listed in the README.
PAYLOAD_KINDS: dict[str, tuple[type[AnyPayload], str]] = {
    "imageServingPublishJob": (ImageServingPublishJob, "ImageServingPublish"),
    "imageRenderingPublishJob": (ImageRenderingPublishJob, "ImageRenderingPublish"),
    "videoPublishJob": (VideoPublishJob, "VideoPublish"),
    "serverDirectoryPublishJob": (ServerDirectoryPublishJob, "ServerDirectoryPublish"),
    "metadataPublishJob": (MetadataPublishJob, "MetadataPublish"),
    "uploadDirectoryJob": (UploadDirectoryJob, "UploadFromServerDirectory"),
    "uploadUrlsJob": (UploadUrlsJob, "UrlUpload"),
    "optimizeImagesJob": (OptimizeImagesJob, "ImageOptimization"),
    "ripPdfsJob": (RipPdfsJob, "PdfRip"),
    "reprocessAssetsJob": (ReprocessAssetsJob, "ReprocessAssets"),
    "createVideoSitemapJob": (CreateVideoSitemapJob, "VideoSitemap"),
    "exportJob": (ExportJob, "Export"),
    "automatedSetGenerationJob": (AutomatedSetGenerationJob, "AutomatedSetGeneration"),
}

# The job-log type a run's log opens with, per job type (JobLog.logType).
OPENING_LOG_TYPES: dict[str, str] = {
    "ImageServingPublish": "BeginImageServingPublish",
    "ImageRenderingPublish": "BeginImageRenderingPublish",
    "VideoPublish": "BeginVideoPublish",
    "ServerDirectoryPublish": "BeginServerDirectoryPublish",
    "MetadataPublish": "BeginMetadata",
    "UploadFromServerDirectory": "BeginUpload",
    "UrlUpload": "BeginUploadUrls",
    "ImageOptimization": "BeginReoptimize",
    "PdfRip": "BeginPdfRip",
    "ReprocessAssets": "BeginReoptimize",
    "VideoSitemap": "BeginVideoPublish",
    "Export": "BeginAssetMigration",
    "AutomatedSetGeneration": "BeginTemplateMerge",
}


MAX_NESTING = 32  # levels of objects and arrays in a payload, its free-form options included
TOO_DEEP = f"nested more than {MAX_NESTING} levels deep"
TOO_DEEP_TO_READ = "nested too deeply to read"  # (past the JSON decoder's own stack)


class PayloadError(RuleError):
    """A payload is of an unknown kind, or a field is missing, of the wrong type or out of range."""


def job_type(kind: str) -> str:
    """The IPS Job Types value for a payload kind."""
    return PAYLOAD_KINDS[kind][1]


_KIND_OF: dict[type[Payload], str] = {cls: kind for kind, (cls, _) in PAYLOAD_KINDS.items()}


def payload_kind(payload: Payload) -> str:
    """The IPS element name of a payload."""
    try:
        return _KIND_OF[type(payload)]
    except KeyError as err:
        raise PayloadError("a payload must be one of the 13 submittable payload types") from err


def _check_kind(kind: str) -> type[AnyPayload]:
    if kind == "uploadPostJob":
        raise PayloadError("uploadPostJob cannot be submitted: IPS creates it through the UploadFile servlet")
    try:
        return PAYLOAD_KINDS[kind][0]
    except KeyError as err:
        known = ", ".join(PAYLOAD_KINDS)
        raise PayloadError(f"unknown payload kind {kind!r}; expected one of: {known}") from err


def decode_payload(kind: str, data: bytes | str) -> AnyPayload:
    """Decode and validate a JSON payload of the given kind."""
    cls = _check_kind(kind)
    try:
        try:
            return validate_payload(msgspec.json.decode(data or b"{}", type=cls))
        except msgspec.ValidationError as err:
            # A typed decode stops at the first thing of the wrong type ('[' of '[bad'): whether
            # the text is JSON at all is known only from an untyped decode.
            raise payload_error(cls, msgspec.json.decode(data or b"{}"), err) from err
    except msgspec.DecodeError as err:
        raise PayloadError(f"malformed JSON in the {kind} payload: {err}") from err
    except RecursionError:
        raise PayloadError(f"malformed JSON in the {kind} payload: {TOO_DEEP}") from None


def validate_payload(payload: Payload) -> AnyPayload:
    """Re-check a payload built in Python (Struct constructors do not validate) and its rules."""
    if not isinstance(payload, Payload) or type(payload) is Payload:
        raise PayloadError("a payload must be one of the 13 submittable payload types")
    cls = type(payload)
    kind = payload_kind(payload)
    _check_kind(kind)
    _check_nesting(kind, payload)
    try:
        checked = msgspec.convert(msgspec.to_builtins(payload), type=cls)
    except msgspec.ValidationError as err:
        raise payload_error(cls, msgspec.to_builtins(payload), err) from err
    if isinstance(checked, _FollowOn):
        _check_follow_on(kind, checked)
    return checked  # type: ignore[return-value]


def _check_nesting(kind: str, payload: Payload) -> None:
    """Refuse free-form options nested deeper than MAX_NESTING: stored, they could not be shown
    again (encoding them would run out of stack in every reader of the events)."""
    waiting: list[tuple[object, int]] = [(payload, 0)]
    while waiting:
        value, depth = waiting.pop()
        if depth > MAX_NESTING:
            raise PayloadError(f"invalid {kind} payload: {TOO_DEEP}")
        if isinstance(value, msgspec.Struct):
            children: Any = (getattr(value, name) for name in value.__struct_fields__)
        elif isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list | tuple):
            children = value
        else:
            continue
        waiting.extend((child, depth + 1) for child in children)


def payload_error(cls: type[Payload], data: object, err: msgspec.ValidationError) -> PayloadError:
    """One error naming every missing, unknown and wrong field at once (msgspec stops at the first)."""
    kind = _KIND_OF.get(cls, cls.__name__)
    problems = payload_problems(cls, data)
    if not problems:  # a rule msgspec knows that the field-by-field pass missed: say msgspec's
        path, problem = explain(err)
        problems = [f"{path}: {problem}" if path else problem]
    return PayloadError(f"invalid {kind} payload: {'; '.join(problems)}")


def payload_problems(cls: type[Payload], data: object) -> list[str]:
    """Every problem of a payload given as builtins: missing and unknown fields, and wrong values."""
    if not isinstance(data, dict):
        return [f"expected an object, got {_JSON_NAMES.get(type(data), type(data).__name__)}"]
    fields = {field.encode_name: field for field in msgspec.structs.fields(cls)}
    problems = []
    missing = [name for name, field in fields.items() if field.required and name not in data]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    unknown = [str(name) for name in data if name not in fields and name != "kind"]
    if unknown:
        problems.append(f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
    tag = data.get("kind", _KIND_OF.get(cls))
    if tag != _KIND_OF.get(cls):
        problems.append(f"kind: expected {_KIND_OF.get(cls)!r}, got {tag!r}")
    for name, value in data.items():
        if name in fields:
            try:
                msgspec.convert(value, type=fields[name].type)
            except msgspec.ValidationError as err:
                path, problem = explain(err)
                problems.append(f"{name}{_joined(path)}: {problem}")
    return problems


_JSON_NAMES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a bool"}
_JSON_NAMES[type(None)] = "null"


def _joined(path: str) -> str:
    return "" if not path else path if path.startswith("[") else f".{path}"


def _check_follow_on(kind: str, payload: _FollowOn) -> None:
    posts = [
        name
        for name in (
            "postImageServingPublishJob",
            "postImageRenderingPublishJob",
            "postVideoPublishJob",
        )
        if getattr(payload, name) is not None
    ]
    if len(posts) > 1:
        raise PayloadError(f"{kind} may name at most one follow-on publish, got {', '.join(posts)}")
    crops = [
        name
        for name in ("manualCropOptions", "autoColorCropOptions", "autoTransparentCropOptions")
        if getattr(payload, name) is not None
    ]
    if len(crops) > 1:
        raise PayloadError(f"{kind} may give at most one crop option, got {', '.join(crops)}")


def follow_on(payload: Payload) -> tuple[str, Payload] | None:
    """The follow-on publish a payload names, as (kind, payload), if any."""
    if not isinstance(payload, _FollowOn):
        return None
    for name in (
        "postImageServingPublishJob",
        "postImageRenderingPublishJob",
        "postVideoPublishJob",
    ):
        post = getattr(payload, name)
        if post is not None:
            return payload_kind(post), post
    return None
