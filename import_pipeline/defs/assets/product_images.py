"""product_images: the images named by a batch's new or changed products, fetched safely,
hashed, stored as JPEG renditions and recorded in commerce.product_images."""

from datetime import UTC, datetime

import dagster as dg

from import_pipeline.core.profiles import load_profile
from import_pipeline.db import ledger
from import_pipeline.defs.images import IMAGES_GROUP, ImageFetching
from import_pipeline.defs.partitions import batches
from import_pipeline.defs.resources import PostgresResource, StagingArea
from import_pipeline.load.images import load_images

FAILURES_SHOWN = 20


@dg.asset(
    deps=["products"],
    partitions_def=batches,
    group_name=IMAGES_GROUP,
    kinds={"postgres"},
)
def product_images(
    context: dg.AssetExecutionContext,
    postgres: PostgresResource,
    staging: StagingArea,
    images: ImageFetching,
) -> dg.MaterializeResult:
    """Downloads the image URLs of the batch's new or changed products (the profile's image
    columns), stores original, 800 px and 200 px JPEGs under images/<tenant>/<product_id>/
    in the staging store and records each in commerce.product_images. A failed image is
    recorded with its reason and retried later by `product_image_retries`; it never fails
    this asset or the products load."""
    key = context.partition_key
    with postgres.connect() as conn:
        batch = ledger.get(conn, key)
    profile = load_profile(batch.profile) if batch is not None else None
    columns = list(profile.image_columns) if profile is not None else []
    report = load_images(
        lambda: postgres.connect("import_pipeline images"),
        staging.store(),
        key,
        columns,
        images.policy(),
        images.retries(),
        datetime.now(UTC),
        images.concurrency,
    )
    context.log.info(
        f"{report.named} images named: {report.downloaded} downloaded, {report.reused} "
        f"reused, {report.failed} failed, {report.waiting} waiting to be retried"
    )
    metadata: dict = {
        "named": report.named,
        "downloaded": report.downloaded,
        "reused": report.reused,
        "failed": report.failed,
        "waiting": report.waiting,
        "removed": report.removed,
    }
    if report.failures:
        lines = ["| URL | error |", "|---|---|"]
        lines += [
            f"| {_cell(url)} | {_cell(error)} |" for url, error in report.failures[:FAILURES_SHOWN]
        ]
        metadata["failures"] = dg.MetadataValue.md("\n".join(lines))
    return dg.MaterializeResult(metadata=metadata)


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")[:200]
