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
from import_pipeline.db.failures import is_transient
from import_pipeline.defs.assets.loading import RunStop, claim, load_staged
from import_pipeline.defs.batch_lock import BatchLock
from import_pipeline.defs.checks import check_specs
from import_pipeline.defs.jobs import IMPORT_GROUP
from import_pipeline.defs.partitions import batches
from import_pipeline.defs.resources import ImportSettings, PostgresResource, StagingArea
from import_pipeline.defs.step_failures import transient_retried
from import_pipeline.defs.summary import FilesFailed, batch_summary, run_files
from import_pipeline.load.batch import record_end, record_idle, staging_error


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
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def load_entities(
    context: dg.AssetExecutionContext,
    postgres: PostgresResource,
    staging: StagingArea,
    settings: ImportSettings,
    batch_lock: BatchLock,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult | dg.AssetMaterialization]:
    """Loads the selected entities of each batch of the run, each as soon as its selected
    parents are loaded, and reports them in foreign-key order (only those the batch feeds
    or changed), then the batch's summary. When a load fails, the entities that do not
    depend on it are still loaded and reported before the batch fails with its error (a
    transient database error is retried). In a run of many files, a file that failed
    fails alone: the others load, and the step fails at the end naming every failed file.
    Terminate stops every load within a chunk and reports what had completed."""
    selected = [e for e in ENTITIES.values() if dg.AssetKey(e.name) in context.selected_asset_keys]
    keys = context.partition_keys
    stop = RunStop(context)
    failures: dict[str, Exception] = {}
    with transient_retried(context, settings):
        batch_lock.confirm()
        if len(keys) == 1:
            yield from load_batch(context, keys[0], selected, postgres, staging, settings, stop)
            return
        for index, key in enumerate(keys):
            try:
                loads = load_batch(
                    context, key, selected, postgres, staging, settings, stop, alone=False
                )
                for result in loads:
                    yield from per_partition(context, result, key)
            except Exception as error:
                if is_transient(error):
                    raise
                failures[key] = error
            except BaseException as interrupt:
                for later in keys[index + 1 :]:
                    record_end(postgres.connect, later, context.run_id, interrupt)
                raise
        with postgres.connect() as conn:
            yield run_files(conn, keys)
    if failures:
        raise FilesFailed(failures)


class NotStaged(Exception):
    """The batch failed in staging, so it has nothing to load; the error is staging's."""


def per_partition(
    context: dg.AssetExecutionContext,
    result: dg.MaterializeResult | dg.AssetCheckResult,
    key: str,
) -> Iterator[dg.AssetMaterialization]:
    """One batch's result as events of its own partition: a run of many files must not
    report one file's load as every file's (as a MaterializeResult of the step would)."""
    if isinstance(result, dg.AssetCheckResult):
        context.log_event(_evaluation(result, key))
        return
    for check in result.check_results:
        context.log_event(_evaluation(check, key))
    yield dg.AssetMaterialization(
        asset_key=result.asset_key or "", partition=key, metadata=result.metadata
    )


def _evaluation(check: dg.AssetCheckResult, key: str) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey.from_coercible(check.asset_key or ""),
        check_name=check.check_name or "",
        passed=check.passed,
        severity=check.severity,
        description=check.description,
        metadata=check.metadata,
        partition=key,
    )


def load_batch(
    context: dg.AssetExecutionContext,
    key: str,
    selected: list[EntitySpec],
    postgres: PostgresResource,
    staging: StagingArea,
    settings: ImportSettings,
    stop: RunStop,
    alone: bool = True,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """One batch's entity loads (see `load_entities`); its first failure is raised once
    every load has ended, after the batch's summary when the batch is alone in its run (a
    run of many files reports them on one table instead, see `run_files`)."""
    with postgres.connect() as conn:
        not_staged = None if alone else staging_error(conn, key)
        if not_staged is not None:
            raise NotStaged(not_staged)
        claim(context, conn, staging, selected, key)
        # An entity the batch feeds no row of, with no held row of its tenant and no check
        # to run, is recorded as loaded: a one-row file costs one entity load, not four.
        idle = record_idle(conn, key, selected)
    failure: Exception | None = None
    reported: set[str] = set(idle)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="entity") as pool:
        loads: dict[str, Future[Reported]] = {}
        for entity in (e for e in selected if e.name not in idle):
            parents = [loads[p.entity] for p in entity.parents if p.entity in loads]
            load = partial(load_staged, context, entity, key, postgres, staging, settings, stop)
            loads[entity.name] = pool.submit(_after, parents, load, stop)
        try:
            for entity in (e for e in selected if e.name in loads):
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
            record_end(postgres.connect, key, context.run_id, interrupt)
            raise
    if alone:
        with postgres.connect() as conn:
            context.log_event(batch_summary(conn, key, failure))
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
