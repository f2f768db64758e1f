"""What every entity asset does with its slice of a staged batch: run the entity's load
(`load/entity.py`) and report it as a materialization with its asset check results."""

import threading
import time

import dagster as dg
from psycopg2.extensions import connection

from import_pipeline.core.entities import ENTITIES, ORDERS, PRODUCTS, Check, EntitySpec
from import_pipeline.core.quality import QUALITY_FIELD, quality_summary
from import_pipeline.defs import checks, metadata
from import_pipeline.defs.resources import ImportSettings, PostgresResource, StagingArea
from import_pipeline.files import layout
from import_pipeline.load import entity, history
from import_pipeline.load.entity import EntityLoad, LoadOptions


class RunStop:
    """Whether the run was asked to stop: set by the step's main thread when Terminate
    interrupts it, or found in the instance (the run CANCELING), looked up at most every
    CHECK_EVERY seconds, because Dagster may deliver the interrupt while it is handling
    an event rather than inside the step's code, and then the step never hears of it."""

    CHECK_EVERY = 1.0
    STOPPING = (dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED)

    def __init__(self, context: dg.AssetExecutionContext) -> None:
        self.instance, self.run_id = context.instance, context.run_id
        self.event = threading.Event()
        self.checked = time.monotonic()

    def set(self) -> None:
        self.event.set()

    def is_set(self) -> bool:
        if not self.event.is_set() and time.monotonic() - self.checked >= self.CHECK_EVERY:
            self.checked = time.monotonic()
            run = self.instance.get_run_by_id(self.run_id)
            if run is not None and run.status in self.STOPPING:
                self.event.set()
        return self.event.is_set()


def claim(
    context: dg.AssetExecutionContext,
    conn: connection,
    staging: StagingArea,
    selected: list[EntitySpec],
    key: str,
) -> None:
    """Claim batch `key` for this run's entity loads (see `load.entity.claim`)."""
    entity.claim(conn, staging.store(), key, context.run_id, selected)


def load_staged(
    context: dg.AssetExecutionContext,
    spec: EntitySpec,
    key: str,
    postgres: PostgresResource,
    staging: StagingArea,
    settings: ImportSettings,
    stop: RunStop,
) -> list[dg.MaterializeResult | dg.AssetCheckResult]:
    """Load the entity's staged rows of batch `key`; report them as a materialization when
    the batch feeds the entity or its load changed the table (held rows resolved or
    expired), else only the checks that still judge this batch (an absent entity is no
    zero-row load)."""
    wanted = {
        c.name for c in context.selected_asset_check_keys if c.asset_key == dg.AssetKey(spec.name)
    }
    options = LoadOptions(
        chunk_rows=settings.chunk_rows,
        connections=settings.load_connections,
        held_max_age_seconds=settings.held_max_age_hours * 3600,
        max_reject_rate=settings.max_reject_rate,
    )
    try:
        done = entity.load_entity(
            postgres.connect,
            staging.store(),
            spec,
            key,
            context.run_id,
            options,
            list(ENTITIES),
            wanted,
            stop.is_set,
            context.log.info,
        )
    except entity.BatchNotInLedger as missing:
        raise dg.Failure(str(missing)) from None
    results = checks.check_results(spec, done.checks)
    counts = done.counts
    if done.staged is None and not (counts.resolved or counts.expired):
        # A batch of orders without their lines still has its order totals checked.
        totals = ORDERS.name in done.batch_entities
        return [r for r in results if totals and r.check_name == Check.ORDER_TOTALS]
    return [
        dg.MaterializeResult(
            asset_key=spec.name,
            metadata={
                **_accounting(done),
                **metadata.load_metadata(done.row_count, counts, done.seconds),
                "db_rejects_file": dg.MetadataValue.path(done.db_rejects_file or "no rejects"),
                "partial_rows": metadata.partial_rows({spec.name: done.staged or {}}),
                "changed_keys": done.changed.count,
                "changed_keys_file": dg.MetadataValue.path(done.changed.file or "none changed"),
                **(_quality(staging, key, spec) if _scored(spec) else {}),
                **(history.batch_changes(postgres.connect, key) if spec is PRODUCTS else {}),
            },
            check_results=[
                r for r in results if done.staged is not None or r.check_name != Check.REJECT_RATE
            ],
        )
    ]


def _accounting(done: EntityLoad) -> metadata.Metadata:
    """The entity's rows as staging accounted for them; `rejected` counts the database's
    refusals too, the same number as the reject_rate check."""
    staged = done.staged
    if staged is None:
        return {"rejected": done.rejected}
    return {
        "read": staged["read"],
        "skipped": staged["skipped"],
        "duplicates": staged["duplicates"],
        "rejected": done.rejected,
    }


def _scored(spec: EntitySpec) -> bool:
    return QUALITY_FIELD in spec.field_names


def _quality(staging: StagingArea, key: str, spec: EntitySpec) -> metadata.Metadata:
    staged = staging.store().scan_parquet(layout.staged_folder(key, spec.name))
    return quality_summary(staged.select(QUALITY_FIELD).collect().to_series())
