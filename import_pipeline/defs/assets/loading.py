"""What every entity asset does with its slice of a staged batch.

Expire and release held rows, then upsert the staged Parquet chunk by chunk (key-ordered,
read lazily), mirror progress and counts into the ledger, and report them as metadata and
asset check results.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack

import dagster as dg
import polars as pl
from psycopg2.extensions import connection

from import_pipeline.core.entities import ENTITIES, LINE_ITEMS, ORDERS, PRODUCTS, EntitySpec
from import_pipeline.core.quality import QUALITY_FIELD, quality_summary
from import_pipeline.core.rejects import rejects_csv
from import_pipeline.core.report import LoadCounts
from import_pipeline.core.validate import ERRORS
from import_pipeline.db import checks as check_sql
from import_pipeline.db import ledger, report, upsert
from import_pipeline.db.failures import LoadCancelled
from import_pipeline.db.sql import BATCH
from import_pipeline.defs import changes, checks, metadata
from import_pipeline.defs.resources import ImportSettings, PostgresResource, StagingArea
from import_pipeline.files import layout

LOADER = "import_pipeline loader"
"""The application name of the connections that load chunks, to tell them apart."""


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


def chunks(
    lazy: pl.LazyFrame, total: int, size: int, batch: str, stop: RunStop
) -> Iterator[pl.DataFrame]:
    """Key-ordered slices of the staged rows, read one at a time to bound memory; once
    `stop` is set (Terminate), the next one raises LoadCancelled instead, so a load stops
    within a chunk (the loader finishes the chunks it has in flight)."""
    for offset in range(0, total, size):
        if stop.is_set():
            raise LoadCancelled(f"stopped after {offset:,} of {total:,} rows")
        yield lazy.slice(offset, size).collect().with_columns(pl.lit(batch).alias(BATCH))


def claim(
    context: dg.AssetExecutionContext,
    postgres: PostgresResource,
    staging: StagingArea,
    selected: list[EntitySpec],
) -> None:
    """Mark the batch running under this run before its entity loads, so the ledger
    describes this attempt (a retry, or a re-execution from failure) and not an earlier
    one: its run id, the counts of the entities it does not load again, and their rows."""
    key = context.partition_key
    rows = sum(
        staging.store()
        .scan_parquet(layout.staged_folder(key, e.name))
        .select(pl.len())
        .collect()
        .item()
        for e in selected
    )
    with postgres.connect() as conn:
        ledger.resume(conn, key, context.run_id, [e.name for e in selected], rows)


class Progress:
    """Mirrors rows done into the ledger after every chunk, and logs rows/s and an ETA at
    most every LOG_EVERY seconds (and after the last chunk of a load that logged before):
    each log line is an event the instance stores, ~10 ms apiece, and a load shorter than
    LOG_EVERY has its rate in the materialization's metadata already."""

    LOG_EVERY = 5.0

    def __init__(
        self, context: dg.AssetExecutionContext, conn: connection, entity: str, total: int
    ):
        self.context, self.conn, self.entity, self.total = context, conn, entity, total
        self.done = 0
        self.started = self.logged = time.monotonic()

    def __call__(self, rows: int) -> None:
        self.done += rows
        ledger.progress(self.conn, self.context.partition_key, rows)
        now = time.monotonic()
        never_logged = self.logged == self.started
        if now - self.logged < self.LOG_EVERY and (self.done < self.total or never_logged):
            return
        self.logged = now
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        self.context.log.info(
            f"{self.entity}: {self.done:,}/{self.total:,} rows, {rate:,.0f} rows/s, ETA {eta:,.0f}s"
        )


def load_staged(
    context: dg.AssetExecutionContext,
    spec: EntitySpec,
    postgres: PostgresResource,
    staging: StagingArea,
    settings: ImportSettings,
    stop: RunStop,
) -> list[dg.MaterializeResult | dg.AssetCheckResult]:
    """Load the entity's staged rows; report them as a materialization when the batch
    feeds the entity or its load changed the table (held rows resolved or expired), else
    only the checks that still judge this batch (an absent entity is no zero-row load)."""
    key = context.partition_key
    started = time.monotonic()
    wanted = {
        c.name for c in context.selected_asset_check_keys if c.asset_key == dg.AssetKey(spec.name)
    }
    with postgres.connect() as conn:
        batch = ledger.get(conn, key)
        if batch is None:
            raise dg.Failure(f"batch {key} is not in the ledger (ingest.files)")
        with ledger.failures_recorded(postgres.connect, key, context.run_id):
            settled = upsert.settle_held(
                conn, spec, batch.tenant, settings.held_max_age_hours * 3600
            )
            lazy = staging.store().scan_parquet(layout.staged_folder(key, spec.name))
            total = lazy.select(pl.len()).collect().item()
            # A second connection only pays when there is a second chunk to give it.
            connections = max(settings.load_connections, 1) if total > settings.chunk_rows else 1
            with ExitStack() as stack:
                loaders = [
                    stack.enter_context(postgres.connect(LOADER)) for _ in range(connections)
                ]
                loaded, db_rejects = upsert.load_entity(
                    loaders[0],
                    spec,
                    chunks(lazy, total, settings.chunk_rows, key, stop),
                    batch.tenant,
                    Progress(context, conn, spec.name, total),
                    more_connections=loaders[1:],
                )
                ledger.save_db_rejects(conn, key, spec.name, db_rejects)
                db_rejects_file = _write_db_rejects(staging, key, spec, db_rejects)
                counts = loaded + settled
                exposed = changes.expose(conn, staging, spec, batch.tenant, key, counts)
                ledger.record(conn, key, spec.name, counts.as_dict())
                ledger.finish_if_complete(conn, key, list(ENTITIES))
                accounting = report.accounting(conn, key)
                staged = accounting.get(spec.name)
                rejected = check_sql.rejected(conn, key, spec.name)
                results = _check_results(
                    conn, loaders, spec, batch, staged, rejected, counts, settings, staging, wanted
                )
    if staged is None and not (counts.resolved or counts.expired):
        # A batch of orders without their lines still has its order totals checked.
        totals = ORDERS.name in accounting
        return [r for r in results if totals and r.check_name == checks.ORDER_TOTALS]
    return [
        dg.MaterializeResult(
            asset_key=spec.name,
            metadata={
                **_accounting(staged, rejected),
                **metadata.load_metadata(total, counts, time.monotonic() - started),
                "db_rejects_file": dg.MetadataValue.path(db_rejects_file or "no rejects"),
                **exposed,
                **(_quality(staging, key) if spec is PRODUCTS else {}),
            },
            check_results=[
                r for r in results if staged is not None or r.check_name != checks.REJECT_RATE
            ],
        )
    ]


def _accounting(staged: dict | None, rejected: int) -> metadata.Metadata:
    """The entity's rows as staging accounted for them; `rejected` counts the database's
    refusals too, the same number as the reject_rate check."""
    if staged is None:
        return {"rejected": rejected}
    return {
        "read": staged["read"],
        "skipped": staged["skipped"],
        "duplicates": staged["duplicates"],
        "rejected": rejected,
    }


def _quality(staging: StagingArea, key: str) -> metadata.Metadata:
    staged = staging.store().scan_parquet(layout.staged_folder(key, PRODUCTS.name))
    return quality_summary(staged.select(QUALITY_FIELD).collect().to_series())


def _write_db_rejects(
    staging: StagingArea, key: str, spec: EntitySpec, rejects: list[upsert.DbReject]
) -> str | None:
    """Rows the database refused, as a rejects CSV of their own beside the staged output
    (the batch's rejects.csv was written before the load knew about them)."""
    if not rejects:
        return None
    frame = pl.DataFrame([r.row for r in rejects])
    frame = frame.with_columns(pl.Series(ERRORS, [[r.error] for r in rejects]))
    return staging.store().write_bytes(layout.db_rejects_file(key, spec.name), rejects_csv(frame))


def _check_results(
    conn: connection,
    loaders: list[connection],
    spec: EntitySpec,
    batch: ledger.Batch,
    staged: dict | None,
    rejected: int,
    counts: LoadCounts,
    settings: ImportSettings,
    staging: StagingArea,
    wanted: set[str],
) -> list[dg.AssetCheckResult]:
    """The entity's selected checks (all of them, unless a run selected fewer), over the
    rows that reached its rules and the rows this batch held."""
    results = []
    if checks.REJECT_RATE in wanted:
        reached = staged["valid"] + staged["rejected"] if staged else 0
        threshold = staged["threshold"] if staged else settings.max_reject_rate
        results.append(checks.reject_rate(spec, rejected, reached, threshold))
    if spec.parents and checks.HELD_ROWS in wanted:
        held = checks.held_rows(conn, spec, batch.partition_key, batch.tenant, counts.held)
        results.append(held)
    if spec.parents and checks.REFERENTIAL_INTEGRITY in wanted:
        results.append(checks.referential_integrity(conn, spec, batch.tenant))
    if spec is LINE_ITEMS and checks.ORDER_TOTALS in wanted:
        results.append(_order_totals(conn, loaders, batch, counts, settings, staging))
    return results


def _order_totals(
    conn: connection,
    loaders: list[connection],
    batch: ledger.Batch,
    counts: LoadCounts,
    settings: ImportSettings,
    staging: StagingArea,
) -> dg.AssetCheckResult:
    """Check the orders of the batch's staged orders and line items, unless the batch
    wrote no order and no line item; on the loaders' connections, idle by now."""
    if not _changed(counts, ledger.step_counts(conn, batch.partition_key, ORDERS.name)):
        return checks.order_totals_unchanged()
    order_ids = (
        frame.unique()
        for entity in (ORDERS, LINE_ITEMS)
        for frame in staging.store()
        .scan_parquet(layout.staged_folder(batch.partition_key, entity.name))
        .select("order_id")
        .collect_batches(chunk_size=settings.chunk_rows)
    )
    return checks.order_totals(loaders, batch.tenant, order_ids)


def _changed(line_items: LoadCounts, orders: dict | None) -> bool:
    """Whether this batch wrote any order or line item (a value, not just a version); an
    orders step that has not recorded its counts (a partial re-execution) counts as yes."""
    if orders is None:
        return True
    written = ("inserted", "updated", "resolved")
    return any(counts.get(k) for counts in (line_items.as_dict(), orders) for k in written)
