"""products: the batch's products, upserted before line items reference them."""

import dagster as dg

from import_pipeline.core.entities import PRODUCTS
from import_pipeline.defs.assets.loading import load_staged
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
    product of the tenant is refused by the database and reported as a reject."""
    return load_staged(context, PRODUCTS, postgres, staging, settings)
