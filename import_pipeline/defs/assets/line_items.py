"""line_items: the batch's order lines, last (they reference orders and products)."""

import dagster as dg

from import_pipeline.core.entities import LINE_ITEMS
from import_pipeline.defs.assets.loading import load_staged
from import_pipeline.defs.checks import check_specs
from import_pipeline.defs.jobs import IMPORT_GROUP
from import_pipeline.defs.partitions import batches
from import_pipeline.defs.resources import ImportSettings, PostgresResource, StagingArea


@dg.asset(
    partitions_def=batches,
    group_name=IMPORT_GROUP,
    deps=["staged_batch", "orders", "products"],
    kinds={"postgres"},
    check_specs=check_specs(LINE_ITEMS),
)
def line_items(
    context: dg.AssetExecutionContext,
    postgres: PostgresResource,
    staging: StagingArea,
    settings: ImportSettings,
) -> dg.MaterializeResult:
    """Upserts the batch's line items into commerce.line_items. A line whose order or
    product has not arrived yet is held until it does."""
    return load_staged(context, LINE_ITEMS, postgres, staging, settings)
