"""customers, products, orders, line_items: the batch's four entity loads, in one step.

Each entity is its own asset with its own checks and report; they share one step because
Dagster's work around a step (its events, the data-version lookups of its inputs) cost
0.1-0.2 s a step, and because within one step independent entities load side by side:
customers and products together, orders once its customers are in, line items once their
orders and products are. A subset (one entity re-materialised from the UI) loads only
what is selected, in the same order.
"""

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

import dagster as dg

from import_pipeline.core.entities import ENTITIES, EntitySpec
from import_pipeline.defs.assets.loading import load_staged
from import_pipeline.defs.checks import check_specs
from import_pipeline.defs.jobs import IMPORT_GROUP
from import_pipeline.defs.partitions import batches
from import_pipeline.defs.resources import ImportSettings, PostgresResource, StagingArea
from import_pipeline.defs.summary import batch_summary

DESCRIPTIONS = {
    "customers": "Upserts the batch's customers into commerce.customers (newer `updated_at` "
    "wins, unchanged rows are left alone). Emails are trimmed and lower-cased.",
    "products": "Upserts the batch's products into commerce.products. A SKU already used by "
    "another product of the tenant is refused by the database and reported as a reject. "
    "Metadata also summarises the batch's quality scores (mean, min, count below 50).",
    "orders": "Upserts the batch's orders into commerce.orders. An order whose customer has "
    "not arrived yet is held in ingest.held_rows and loads with the run that brings it.",
    "line_items": "Upserts the batch's line items into commerce.line_items. A line whose "
    "order or product has not arrived yet is held until it does.",
}


def _spec(entity: EntitySpec) -> dg.AssetSpec:
    """Skippable: a batch materialises only the entities it feeds (or whose held rows it
    settled), so an entity's plots over partitions hold real loads, not zeros."""
    return dg.AssetSpec(
        entity.name,
        skippable=True,
        deps=["staged_batch", *(p.entity for p in entity.parents)],
        description=DESCRIPTIONS[entity.name],
        group_name=IMPORT_GROUP,
        kinds={"postgres"},
        partitions_def=batches,
    )


class ParentNotLoaded(Exception):
    """A parent entity's load failed, so its children were not loaded in this step."""


@dg.multi_asset(
    name="load_entities",
    specs=[_spec(entity) for entity in ENTITIES.values()],
    check_specs=[check for entity in ENTITIES.values() for check in check_specs(entity)],
    partitions_def=batches,
    can_subset=True,
)
def load_entities(
    context: dg.AssetExecutionContext,
    postgres: PostgresResource,
    staging: StagingArea,
    settings: ImportSettings,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Loads the selected entities, each as soon as its selected parents are loaded, and
    reports them in foreign-key order (only those the batch feeds or changed), then the
    batch's summary. When a load fails, the entities that do not depend on it are still
    loaded and reported before the step fails with its error."""
    selected = [e for e in ENTITIES.values() if dg.AssetKey(e.name) in context.selected_asset_keys]
    failure: Exception | None = None
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="entity") as pool:
        loads: dict[str, Future[Reported]] = {}
        for entity in selected:
            parents = [loads[p.entity] for p in entity.parents if p.entity in loads]
            load = partial(load_staged, context, entity, postgres, staging, settings)
            loads[entity.name] = pool.submit(_after, parents, load)
        for entity in selected:
            try:
                yield from loads[entity.name].result()
            except ParentNotLoaded:
                continue
            except Exception as error:
                failure = failure or error
    with postgres.connect() as conn:
        context.log_event(batch_summary(conn, context.partition_key, failure))
    if failure is not None:
        raise failure


Reported = list[dg.MaterializeResult | dg.AssetCheckResult]


def _after(parents: list[Future], load: Callable[[], Reported]) -> Reported:
    """`load()` once every parent load has succeeded; a failed parent skips it."""
    for parent in parents:
        if parent.exception() is not None:
            raise ParentNotLoaded
    return load()
