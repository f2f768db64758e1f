"""The batch's entity loads (one asset per entity of `ENTITIES`), in one step.

Each entity is its own asset with its own checks and report; they share one step because
Dagster's work around a step (its events, the data-version lookups of its inputs) costs
time per step, and because within one step independent entities load side by side, each
as soon as its parents are in (customers and products together, orders once its
customers are in, line items once their orders and products are). A subset (one entity
re-materialised from the UI) loads only what is selected, in the same order.
"""

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

import dagster as dg

from import_pipeline.core.entities import ENTITIES, EntitySpec
from import_pipeline.core.errors import LoadCancelled
from import_pipeline.db import ledger
from import_pipeline.defs.assets.loading import RunStop, claim, load_staged
from import_pipeline.defs.batch_lock import BatchLock
from import_pipeline.defs.checks import check_specs
from import_pipeline.defs.jobs import IMPORT_GROUP
from import_pipeline.defs.partitions import batches
from import_pipeline.defs.resources import ImportSettings, PostgresResource, StagingArea
from import_pipeline.defs.step_failures import transient_retried
from import_pipeline.defs.summary import batch_summary


def asset_spec(entity: EntitySpec) -> dg.AssetSpec:
    """Skippable: a batch materialises only the entities it feeds (or whose held rows it
    released or expired), so an entity's plots over partitions hold real loads, not zeros."""
    return dg.AssetSpec(
        entity.name,
        skippable=True,
        deps=["staged_batch", *(p.entity for p in entity.parents)],
        description=entity.description,
        group_name=IMPORT_GROUP,
        kinds={"postgres"},
        partitions_def=batches,
    )


class ParentNotLoaded(Exception):
    """A parent entity's load failed, so its children were not loaded in this step."""


@dg.multi_asset(
    name="load_entities",
    specs=[asset_spec(entity) for entity in ENTITIES.values()],
    check_specs=[check for entity in ENTITIES.values() for check in check_specs(entity)],
    partitions_def=batches,
    can_subset=True,
)
def load_entities(
    context: dg.AssetExecutionContext,
    postgres: PostgresResource,
    staging: StagingArea,
    settings: ImportSettings,
    batch_lock: BatchLock,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Loads the selected entities, each as soon as its selected parents are loaded, and
    reports them in foreign-key order (only those the batch feeds or changed), then the
    batch's summary. When a load fails, the entities that do not depend on it are still
    loaded and reported before the step fails with its error (a transient database error
    is retried). Terminate stops every load within a chunk and reports what had completed."""
    selected = [e for e in ENTITIES.values() if dg.AssetKey(e.name) in context.selected_asset_keys]
    stop = RunStop(context)
    with transient_retried(context, settings):
        batch_lock.confirm()
        claim(context, postgres, staging, selected)
        failure: Exception | None = None
        reported: set[str] = set()
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="entity") as pool:
            loads: dict[str, Future[Reported]] = {}
            for entity in selected:
                parents = [loads[p.entity] for p in entity.parents if p.entity in loads]
                load = partial(load_staged, context, entity, postgres, staging, settings, stop)
                loads[entity.name] = pool.submit(_after, parents, load, stop)
            try:
                for entity in selected:
                    try:
                        results = loads[entity.name].result()
                    except ParentNotLoaded:
                        results = []
                    except Exception as error:
                        results, failure = [], failure or error
                    reported.add(entity.name)
                    yield from results
            except GeneratorExit:
                stop.set()
                raise
            except BaseException as interrupt:  # Terminate interrupts this (the main) thread
                stop.set()
                yield from _completed(loads, reported)
                ledger.record_end(
                    postgres.connect, context.partition_key, context.run_id, interrupt
                )
                raise
        with postgres.connect() as conn:
            context.log_event(batch_summary(conn, context.partition_key, failure))
        if failure is not None:
            raise failure


Reported = list[dg.MaterializeResult | dg.AssetCheckResult]


def _completed(loads: dict[str, "Future[Reported]"], reported: set[str]) -> Iterator:
    """The results of loads that completed and were not reported yet, once every load has
    stopped (within a chunk of the stop)."""
    for name, load in loads.items():
        if name not in reported and load.exception() is None:
            yield from load.result()


def _after(parents: list[Future], load: Callable[[], Reported], stop: RunStop) -> Reported:
    """`load()` once every parent load has succeeded; a failed parent skips it, and so
    does a stop."""
    for parent in parents:
        if parent.exception() is not None:
            raise ParentNotLoaded
    if stop.is_set():
        raise LoadCancelled("stopped before it started")
    return load()
