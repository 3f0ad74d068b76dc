"""The 13 submittable payloads: each decodes from its smallest valid JSON, and each error names its field."""

from __future__ import annotations

import json

import msgspec
import pytest
from samples import MINIMAL_PAYLOADS, UPLOAD_DIRECTORY

from jobledger.domain.job import check_submission
from jobledger.domain.payloads import (
    MAX_NESTING,
    PAYLOAD_KINDS,
    ExportJob,
    OptimizeImagesJob,
    Payload,
    PayloadError,
    decode_payload,
    follow_on,
    job_type,
    payload_kind,
    validate_payload,
)

KINDS = sorted(MINIMAL_PAYLOADS)


def with_fields(kind: str, **changes: object) -> str:
    """The minimal JSON of a kind with some fields set (None removes a field)."""
    data = json.loads(MINIMAL_PAYLOADS[kind][0])
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return json.dumps(data)


def test_the_samples_cover_all_13_submittable_kinds() -> None:
    assert sorted(PAYLOAD_KINDS) == KINDS
    assert len(KINDS) == 13


@pytest.mark.parametrize("kind", KINDS)
def test_each_payload_kind_decodes_from_its_minimal_json_and_gets_its_job_type(kind: str) -> None:
    data, expected_type = MINIMAL_PAYLOADS[kind]

    payload = decode_payload(kind, data)

    assert isinstance(payload, PAYLOAD_KINDS[kind][0])
    assert payload_kind(payload) == kind
    assert job_type(kind) == expected_type
    assert validate_payload(payload) == payload


@pytest.mark.parametrize("kind", ["metadataPublishJob", "createVideoSitemapJob"])
def test_payloads_without_required_fields_decode_from_no_json_at_all(kind: str) -> None:
    assert payload_kind(decode_payload(kind, b"")) == kind


# Every field of a minimal payload is required: the samples hold nothing optional.
REQUIRED = [(kind, field) for kind in KINDS for field in json.loads(MINIMAL_PAYLOADS[kind][0])]


@pytest.mark.parametrize(("kind", "field"), REQUIRED, ids=[f"{k}.{f}" for k, f in REQUIRED])
def test_a_missing_required_field_is_refused_and_named(kind: str, field: str) -> None:
    with pytest.raises(PayloadError, match=f"invalid {kind} payload: missing {field}$"):
        decode_payload(kind, with_fields(kind, **{field: None}))


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("optimizeImagesJob", "emailSetting", "Always"),
        ("optimizeImagesJob", "emailSetting", "all"),
        ("imageServingPublishJob", "publishType", "Partial"),
        ("exportJob", "fmt", "png"),
        ("metadataPublishJob", "emailSetting", "Sometimes"),
    ],
)
def test_a_bad_enum_value_is_refused_and_its_field_named(kind: str, field: str, value: str) -> None:
    with pytest.raises(PayloadError, match=rf"{field}: invalid enum value '{value}'"):
        decode_payload(kind, with_fields(kind, **{field: value}))


@pytest.mark.parametrize(
    ("kind", "field", "value", "expected"),
    [
        ("uploadDirectoryJob", "overwrite", "yes", "bool"),
        ("uploadDirectoryJob", "serverDir", 7, "str"),
        ("exportJob", "assetHandleArray", "a|img1", "array"),
        ("metadataPublishJob", "forcePublish", 1, "bool"),
        ("automatedSetGenerationJob", "autoSetCreationOptions", [], "object"),
    ],
)
def test_a_field_of_the_wrong_type_is_refused_and_named(
    kind: str, field: str, value: object, expected: str
) -> None:
    with pytest.raises(PayloadError, match=rf"{field}: expected {expected}, got "):
        decode_payload(kind, with_fields(kind, **{field: value}))


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("uploadDirectoryJob", "serverDir", ""),
        ("exportJob", "assetHandleArray", []),
        ("ripPdfsJob", "pdfHandleArray", [""]),
        ("automatedSetGenerationJob", "assetHandleArray", [f"a|{i}" for i in range(1001)]),
    ],
    ids=["empty-server-dir", "no-assets", "empty-handle", "over-1000-assets"],
)
def test_a_value_out_of_range_is_refused_and_its_field_named(kind: str, field: str, value: object) -> None:
    problem = "(must not be empty|longer than the limit)"
    with pytest.raises(PayloadError, match=rf"invalid {kind} payload: {field}(\[0\])?: {problem}"):
        decode_payload(kind, with_fields(kind, **{field: value}))


def test_up_to_1000_assets_make_an_automated_set() -> None:
    handles = [f"a|{i}" for i in range(1000)]

    payload = decode_payload(
        "automatedSetGenerationJob", with_fields("automatedSetGenerationJob", assetHandleArray=handles)
    )

    assert len(payload.assetHandleArray) == 1000  # type: ignore[union-attr]


def test_an_unknown_field_is_refused_and_named() -> None:
    with pytest.raises(PayloadError, match="unknown field emailSettings"):
        decode_payload("serverDirectoryPublishJob", '{"emailSetting": "All", "emailSettings": "All"}')


def test_an_unknown_kind_is_refused_with_the_kinds_that_exist() -> None:
    with pytest.raises(
        PayloadError, match="unknown payload kind 'publishJob'; expected one of: imageServingPublishJob"
    ):
        decode_payload("publishJob", "{}")


def test_an_upload_post_job_cannot_be_submitted_and_the_error_says_why() -> None:
    with pytest.raises(
        PayloadError, match="uploadPostJob cannot be submitted: IPS creates it through the UploadFile"
    ):
        decode_payload("uploadPostJob", '{"overwrite": true}')


@pytest.mark.parametrize(
    "data",
    ['{"emailSetting": ', "{emailSetting: All}", "nul", '{"emailSetting": "All"} x', "[bad", "1x", "[", '"x'],
)
def test_malformed_json_is_refused_as_malformed(data: str) -> None:
    with pytest.raises(PayloadError, match="malformed JSON in the optimizeImagesJob payload"):
        decode_payload("optimizeImagesJob", data)


def test_a_json_value_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(PayloadError, match="expected an object, got an array"):
        decode_payload("optimizeImagesJob", "[]")


def test_a_tag_of_another_kind_in_the_json_is_refused() -> None:
    with pytest.raises(PayloadError, match="kind"):
        decode_payload("optimizeImagesJob", '{"kind": "exportJob", "emailSetting": "All"}')


# --- follow-on publishes and crop options -------------------------------------------------------

POSTS = {
    "postImageServingPublishJob": {"emailSetting": "All", "publishType": "Incremental"},
    "postImageRenderingPublishJob": {"emailSetting": "All"},
    "postVideoPublishJob": {"emailSetting": "All"},
}
CROPS = ("manualCropOptions", "autoColorCropOptions", "autoTransparentCropOptions")
FOLLOW_ON_KINDS = ["uploadDirectoryJob", "uploadUrlsJob", "ripPdfsJob", "reprocessAssetsJob"]


@pytest.mark.parametrize("kind", FOLLOW_ON_KINDS)
@pytest.mark.parametrize("post", list(POSTS))
def test_one_follow_on_publish_is_accepted_and_found(kind: str, post: str) -> None:
    payload = decode_payload(kind, with_fields(kind, **{post: POSTS[post]}))

    found = follow_on(payload)

    assert found is not None
    assert found[0] == post.removeprefix("post")[0].lower() + post.removeprefix("post")[1:]


@pytest.mark.parametrize("kind", FOLLOW_ON_KINDS)
def test_two_follow_on_publishes_are_refused_and_both_named(kind: str) -> None:
    data = with_fields(
        kind,
        postImageServingPublishJob=POSTS["postImageServingPublishJob"],
        postVideoPublishJob=POSTS["postVideoPublishJob"],
    )

    with pytest.raises(
        PayloadError,
        match="at most one follow-on publish, got postImageServingPublishJob, postVideoPublishJob",
    ):
        decode_payload(kind, data)


def test_a_follow_on_publish_is_itself_validated() -> None:
    data = with_fields("uploadDirectoryJob", postImageServingPublishJob={"emailSetting": "All"})

    with pytest.raises(PayloadError, match="publishType"):
        decode_payload("uploadDirectoryJob", data)


def test_a_payload_without_follow_on_fields_has_no_follow_on() -> None:
    assert follow_on(decode_payload("optimizeImagesJob", '{"emailSetting": "All"}')) is None
    assert follow_on(decode_payload("uploadDirectoryJob", UPLOAD_DIRECTORY)) is None


@pytest.mark.parametrize("crop", CROPS)
def test_one_crop_option_is_accepted(crop: str) -> None:
    payload = decode_payload("uploadDirectoryJob", with_fields("uploadDirectoryJob", **{crop: {"left": 0}}))

    assert getattr(payload, crop) == {"left": 0}


@pytest.mark.parametrize(
    ("first", "second"), [(CROPS[0], CROPS[1]), (CROPS[1], CROPS[2]), (CROPS[0], CROPS[2])]
)
def test_two_crop_options_are_refused_and_both_named(first: str, second: str) -> None:
    data = with_fields("reprocessAssetsJob", **{first: {"a": 1}, second: {"b": 2}})

    with pytest.raises(PayloadError, match=f"at most one crop option, got {first}, {second}"):
        decode_payload("reprocessAssetsJob", data)


def nested(levels: int) -> object:
    """An option value of `levels` arrays, one inside the other."""
    value: object = []
    for _ in range(levels - 1):
        value = [value]
    return value


def test_options_nested_as_deep_as_allowed_are_accepted() -> None:
    crop = {"a": nested(MAX_NESTING - 1)}  # the crop object is a level, the payload holding it none

    payload = decode_payload("uploadDirectoryJob", with_fields("uploadDirectoryJob", manualCropOptions=crop))

    assert payload.manualCropOptions == crop  # type: ignore[attr-defined]


@pytest.mark.parametrize("levels", [MAX_NESTING, 990, 5000])
def test_options_nested_deeper_are_refused_in_one_line(levels: int) -> None:
    # (Stored, such a value could not be encoded again: every reader of the events would fail.)
    data = with_fields("uploadDirectoryJob")[:-1] + ', "manualCropOptions": {"a": '
    data += "[" * levels + "]" * levels + "}}"

    with pytest.raises(PayloadError, match=f"nested more than {MAX_NESTING} levels deep"):
        decode_payload("uploadDirectoryJob", data)


def test_a_python_payload_nested_too_deep_is_refused() -> None:
    payload = OptimizeImagesJob(emailSetting="All")
    deep = msgspec.structs.replace(
        decode_payload("uploadDirectoryJob", UPLOAD_DIRECTORY), manualCropOptions={"a": nested(MAX_NESTING)}
    )

    assert validate_payload(payload) == payload
    too_deep = f"uploadDirectoryJob payload: nested more than {MAX_NESTING} levels"
    with pytest.raises(PayloadError, match=too_deep):
        validate_payload(deep)


# --- payloads built in Python ---------------------------------------------------------------------


def test_a_payload_built_in_python_is_validated_like_json() -> None:
    with pytest.raises(PayloadError, match=r"invalid exportJob payload: fmt: invalid enum value 'png'$"):
        validate_payload(ExportJob(assetHandleArray=["a|1"], fmt="png", emailSetting="All"))  # type: ignore[arg-type]


def test_a_payload_built_in_python_with_two_follow_ons_is_refused_on_submit() -> None:
    payload = decode_payload("uploadUrlsJob", MINIMAL_PAYLOADS["uploadUrlsJob"][0])
    both = payload.__class__(
        **{
            **{f: getattr(payload, f) for f in payload.__struct_fields__},
            "postImageRenderingPublishJob": decode_payload(
                "imageRenderingPublishJob", '{"emailSetting": "All"}'
            ),
            "postVideoPublishJob": decode_payload("videoPublishJob", '{"emailSetting": "All"}'),
        }
    )

    with pytest.raises(PayloadError, match="at most one follow-on publish"):
        check_submission("acme", "nightly", both, "", "")


def test_the_payload_base_class_is_not_a_payload() -> None:
    with pytest.raises(PayloadError, match="one of the 13 submittable payload types"):
        validate_payload(Payload())


def test_a_valid_python_payload_passes_unchanged() -> None:
    payload = OptimizeImagesJob(emailSetting="Error")

    assert validate_payload(payload) == payload
