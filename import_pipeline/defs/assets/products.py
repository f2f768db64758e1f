"""products: the batch's products, upserted before line items reference them."""

import dagster as dg

from import_pipeline.core.entities import PRODUCTS
from import_pipeline.core.quality import QUALITY_FIELD, quality_summary
from import_pipeline.defs.assets.loading import load_staged
from import_pipeline.defs.assets.staged_batch import staged_folder
from import_pipeline.defs.checks import check_specs
from import_pipeline.defs.jobs import IMPORT_GROUP
from import_pipeline.defs.partitions import batches
from import_pipeline.defs.resources import ImportSettings, PostgresResource, StagingArea


@dg.asset(
    partitions_def=batches,
    group_name=IMPORT_GROUP,
    deps=["staged_batch"],
    kinds={"postgres"},
    check_specs=check_specs(PRODUCTS),
)
def products(
    context: dg.AssetExecutionContext,
    postgres: PostgresResource,
    staging: StagingArea,
    settings: ImportSettings,
) -> dg.MaterializeResult:
    """Upserts the batch's products into commerce.products. A SKU already used by another
    product of the tenant is refused by the database and reported as a reject. Metadata
    also summarises the batch's quality scores (mean, min, count below 50)."""
    loaded = load_staged(context, PRODUCTS, postgres, staging, settings)
    staged = staging.scan_folder(context.partition_key, staged_folder(PRODUCTS.name))
    quality = quality_summary(staged.select(QUALITY_FIELD).collect().to_series())
    return dg.MaterializeResult(
        metadata={**(loaded.metadata or {}), **quality}, check_results=loaded.check_results
    )
