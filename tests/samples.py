"""Sample data shared by the unit, property and integration tests: fixed times and valid payloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 1, 1, 9, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """A fixed moment, `seconds` after T0, so that tests never depend on the clock."""
    return T0 + timedelta(seconds=seconds)


# The smallest JSON each submittable payload kind accepts, and the IPS job type it maps to.
MINIMAL_PAYLOADS: dict[str, tuple[str, str]] = {
    "imageServingPublishJob": ('{"emailSetting": "All", "publishType": "Full"}', "ImageServingPublish"),
    "imageRenderingPublishJob": ('{"emailSetting": "Error"}', "ImageRenderingPublish"),
    "videoPublishJob": ('{"emailSetting": "ErrorAndWarning"}', "VideoPublish"),
    "serverDirectoryPublishJob": ('{"emailSetting": "JobCompletion"}', "ServerDirectoryPublish"),
    "metadataPublishJob": ("{}", "MetadataPublish"),
    "uploadDirectoryJob": (
        '{"serverDir": "incoming/", "overwrite": true, "readyForPublish": true,'
        ' "includeSubfolders": false, "createMask": false, "processMetadataFiles": false,'
        ' "emailSetting": "None"}',
        "UploadFromServerDirectory",
    ),
    "uploadUrlsJob": (
        '{"overwrite": false, "readyForPublish": true, "createMask": false, "emailSetting": "All"}',
        "UrlUpload",
    ),
    "optimizeImagesJob": ('{"emailSetting": "All"}', "ImageOptimization"),
    "ripPdfsJob": ('{"pdfHandleArray": ["a|pdf1"], "createMask": false, "emailSetting": "All"}', "PdfRip"),
    "reprocessAssetsJob": (
        '{"assetHandleArray": ["a|img1"], "createMask": true, "emailSetting": "All"}',
        "ReprocessAssets",
    ),
    "createVideoSitemapJob": ("{}", "VideoSitemap"),
    "exportJob": ('{"assetHandleArray": ["a|img1"], "fmt": "orig", "emailSetting": "All"}', "Export"),
    "automatedSetGenerationJob": (
        '{"assetHandleArray": ["a|img1"], "readyForPublish": true, "autoSetCreationOptions": {},'
        ' "emailSetting": "All"}',
        "AutomatedSetGeneration",
    ),
}

OPTIMIZE = MINIMAL_PAYLOADS["optimizeImagesJob"][0]
UPLOAD_DIRECTORY = MINIMAL_PAYLOADS["uploadDirectoryJob"][0]
