"""product_search_documents: the example of a consumer downstream of the entities, which
turns the products a batch changed into search-index documents."""

import json

import dagster as dg

from import_pipeline.core.entities import PRODUCTS
from import_pipeline.defs.partitions import batches
from import_pipeline.defs.resources import PostgresResource, StagingArea
from import_pipeline.files import layout
from import_pipeline.load.changes import changed_keys, changed_products

DOWNSTREAM_GROUP = "downstream"


@dg.asset(
    partitions_def=batches,
    deps=[PRODUCTS.name],
    group_name=DOWNSTREAM_GROUP,
    kinds={"json"},
    automation_condition=dg.AutomationCondition.eager(),
)
def product_search_documents(
    context: dg.AssetExecutionContext, postgres: PostgresResource, staging: StagingArea
) -> dg.MaterializeResult:
    """One JSON document per product the batch inserted or updated, as a search index
    would take them, written to the staging store as NDJSON: materialised for each batch
    whose products load changed something."""
    key = context.partition_key
    keys = changed_keys(staging.store(), key, PRODUCTS.name)
    with postgres.connect() as conn:
        changed = changed_products(conn, key, keys)
    if changed is None:
        raise dg.Failure(f"batch {key} is not in the ledger (ingest.files)")
    rows = changed.rows
    documents = "".join(json.dumps(document(changed.tenant, row)) + "\n" for row in rows)
    path = staging.store().write_bytes(layout.search_documents_file(key), documents.encode())
    return dg.MaterializeResult(
        metadata={"documents": len(rows), "file": dg.MetadataValue.path(path)}
    )


def document(tenant: str, row: dict) -> dict:
    """A product as a search document: its id unique across tenants, values as JSON."""
    return {
        "id": f"{tenant}/{row['product_id']}",
        "tenant": tenant,
        **{name: _json_value(value) for name, value in row.items()},
    }


def _json_value(value: object) -> object:
    """Decimals as text (their digits kept), timestamps in ISO 8601, the rest as it is."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is not None and not isinstance(value, int | float | str | bool | dict | list):
        return str(value)
    return value


downstream_automation = dg.AutomationConditionSensorDefinition(
    "downstream_automation",
    target=dg.AssetSelection.groups(DOWNSTREAM_GROUP),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Materialises the downstream assets (their `eager` condition) for each batch "
    "whose upstream entities changed.",
)
