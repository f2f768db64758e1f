"""orders: the batch's orders, after their customers."""

import dagster as dg

from import_pipeline.core.entities import ORDERS
from import_pipeline.defs.assets.loading import load_staged
from import_pipeline.defs.checks import check_specs
from import_pipeline.defs.jobs import IMPORT_GROUP
from import_pipeline.defs.partitions import batches
from import_pipeline.defs.resources import ImportSettings, PostgresResource, StagingArea


@dg.asset(
    partitions_def=batches,
    group_name=IMPORT_GROUP,
    deps=["staged_batch", "customers"],
    kinds={"postgres"},
    check_specs=check_specs(ORDERS),
)
def orders(
    context: dg.AssetExecutionContext,
    postgres: PostgresResource,
    staging: StagingArea,
    settings: ImportSettings,
) -> dg.MaterializeResult:
    """Upserts the batch's orders into commerce.orders. An order whose customer has not
    arrived yet is held in ingest.held_rows and loads with the run that brings it."""
    return load_staged(context, ORDERS, postgres, staging, settings)
