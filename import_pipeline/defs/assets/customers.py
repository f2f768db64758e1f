"""customers: the batch's customers, upserted first (orders reference them)."""

import dagster as dg

from import_pipeline.core.entities import CUSTOMERS
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
    check_specs=check_specs(CUSTOMERS),
)
def customers(
    context: dg.AssetExecutionContext,
    postgres: PostgresResource,
    staging: StagingArea,
    settings: ImportSettings,
) -> dg.MaterializeResult:
    """Upserts the batch's customers into commerce.customers (newer `updated_at` wins,
    unchanged rows are left alone). Emails are trimmed and lower-cased."""
    return load_staged(context, CUSTOMERS, postgres, staging, settings)
