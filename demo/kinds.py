"""How runs of each payload kind look: their names, the assets they touch, how long an item takes,
the log types they write and the task rows of their progress."""

from __future__ import annotations

from typing import NamedTuple

from .catalogue import Weighted


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
KIND_TABLE = Weighted(KIND_NAMES, [k.weight for k in KINDS.values()])
_WARNING_KINDS = tuple(name for name, k in KINDS.items() if k.warning is not None)
WARNING_KIND_TABLE = Weighted(_WARNING_KINDS, [KINDS[name].weight for name in _WARNING_KINDS])
UPLOAD_KINDS = frozenset({"uploadDirectoryJob", "uploadUrlsJob", "ripPdfsJob", "reprocessAssetsJob"})
# Runs that create assets: a file that fails there never gets an asset handle.
NEW_ASSET_KINDS = frozenset({"uploadDirectoryJob", "uploadUrlsJob"})
# The payload's own list names the items of these (each run of a schedule processes the same ones).
FIXED_ITEM_KINDS = frozenset({"uploadUrlsJob", "exportJob"})
# What the demo's uploads name as their follow-on publish (postImageServingPublishJob).
FOLLOW_ON_KIND = "imageServingPublishJob"
