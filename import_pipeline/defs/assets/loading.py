"""What every entity asset does with its slice of a staged batch.

Expire and release held rows, then upsert the staged Parquet chunk by chunk (key-ordered,
read lazily), mirror progress and counts into the ledger, and report them as metadata.
"""

import time
from collections.abc import Iterator

import dagster as dg
import polars as pl

from import_pipeline.core.entities import ENTITIES, EntitySpec
from import_pipeline.core.report import LoadCounts
from import_pipeline.db import ledger, upsert
from import_pipeline.db.sql import BATCH
from import_pipeline.defs import metadata
from import_pipeline.defs.assets.staged_batch import staged_name
from import_pipeline.defs.resources import ImportSettings, PostgresResource, StagingArea


def chunks(lazy: pl.LazyFrame, total: int, size: int, batch: str) -> Iterator[pl.DataFrame]:
    """Key-ordered slices of the staged rows, read one at a time to bound memory."""
    for offset in range(0, total, size):
        yield lazy.slice(offset, size).collect().with_columns(pl.lit(batch).alias(BATCH))


def load_staged(
    context: dg.AssetExecutionContext,
    spec: EntitySpec,
    postgres: PostgresResource,
    staging: StagingArea,
    settings: ImportSettings,
) -> dg.MaterializeResult:
    key = context.partition_key
    started = time.monotonic()
    with postgres.connect() as conn:
        batch = ledger.get(conn, key)
        if batch is None:
            raise dg.Failure(f"batch {key} is not in the ledger (ingest.files)")
        with ledger.failures_recorded(conn, key, context.run_id):
            settled = upsert.settle_held(
                conn, spec, batch.tenant, settings.held_max_age_hours * 3600
            )
            lazy = staging.scan_parquet(key, staged_name(spec.name))
            total = lazy.select(pl.len()).collect().item()

            def progress(rows: int, so_far: LoadCounts) -> None:
                ledger.progress(conn, key, rows)
                done = so_far.inserted + so_far.updated + so_far.unchanged + so_far.stale
                done += so_far.held + so_far.rejected
                elapsed = time.monotonic() - started
                rate = done / elapsed if elapsed else 0.0
                eta = (total - done) / rate if rate else 0.0
                context.log.info(
                    f"{spec.name}: {done:,}/{total:,} rows, {rate:,.0f} rows/s, ETA {eta:,.0f}s"
                )

            loaded, db_rejects = upsert.load_entity(
                conn, spec, chunks(lazy, total, settings.chunk_rows, key), batch.tenant, progress
            )
            ledger.save_db_rejects(conn, key, spec.name, db_rejects)
            counts = loaded + settled
            ledger.record(conn, key, spec.name, counts.as_dict())
            ledger.finish_if_complete(conn, key, list(ENTITIES))
    return dg.MaterializeResult(
        metadata=metadata.load_metadata(total, counts, time.monotonic() - started)
    )
