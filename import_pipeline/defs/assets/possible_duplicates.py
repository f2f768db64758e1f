"""possible_duplicate_products: the batch's products that look like other products of
their tenant, reported for a person to decide, never merged."""

import io

import dagster as dg
import polars as pl

from import_pipeline.core.rejects import neutralised
from import_pipeline.db.duplicates import possible_duplicates
from import_pipeline.defs.images import IMAGES_GROUP
from import_pipeline.defs.partitions import batches
from import_pipeline.defs.resources import PostgresResource, StagingArea
from import_pipeline.files.layout import possible_duplicates_file

PREVIEW_ROWS = 20


@dg.asset(
    deps=["product_images"],
    partitions_def=batches,
    group_name=IMAGES_GROUP,
    kinds={"postgres"},
)
def possible_duplicate_products(
    context: dg.AssetExecutionContext, postgres: PostgresResource, staging: StagingArea
) -> dg.MaterializeResult:
    """Lists each product the batch inserted or changed that has the same normalised name
    and brand as another product of its tenant, or an image with the same perceptual hash,
    in `possible_duplicates.csv` beside the batch's rejects. Nothing is merged."""
    with postgres.connect("import_pipeline duplicates") as conn:
        pairs = possible_duplicates(conn, context.partition_key)
    metadata: dict = {
        "possible_duplicates": pairs.height,
        "by_name_and_brand": pairs.filter(pl.col("reason") == "name+brand").height,
        "by_image": pairs.filter(pl.col("reason") == "image").height,
    }
    if pairs.height:
        buffer = io.BytesIO()
        pairs.select(neutralised(c) for c in pairs.columns).write_csv(buffer)
        path = staging.store().write_bytes(
            possible_duplicates_file(context.partition_key), buffer.getvalue()
        )
        metadata["possible_duplicates_file"] = dg.MetadataValue.path(path)
        metadata["preview"] = _preview(pairs)
    return dg.MaterializeResult(metadata=metadata)


def _preview(pairs: pl.DataFrame) -> dg.MetadataValue:
    """The first pairs as a table (every column is text)."""
    records = [
        dg.TableRecord({k: v or "" for k, v in row.items()})
        for row in pairs.head(PREVIEW_ROWS).iter_rows(named=True)
    ]
    schema = dg.TableSchema(columns=[dg.TableColumn(c, "string") for c in pairs.columns])
    return dg.MetadataValue.table(records=records, schema=schema)
