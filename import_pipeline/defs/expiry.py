"""The daily expiry of what old batches left in the staging store and in ingest.rejects,
as the seed systems expire their uploads: the ledger row of every batch stays forever."""

import dagster as dg

from import_pipeline.core.entities import ENTITIES
from import_pipeline.db import expiry
from import_pipeline.defs.resources import PostgresResource, StagingArea
from import_pipeline.files import layout


class ExpiryConfig(dg.Config):
    """How long each kind of file or row is kept after its batch succeeded, in days."""

    staged_days: float = 30.0
    """Staged Parquet and the changed keys: only a re-execution of the batch reads them."""
    reports_days: float = 90.0
    """The rejects and duplicates CSVs a person downloads (and everything else of the batch
    in the staging store)."""
    rejects_days: float = 90.0
    """Rows of ingest.rejects."""
    chunk_rows: int = 5000
    batches_per_run: int = 10_000


@dg.op
def expire_batches(
    context: dg.OpExecutionContext,
    config: ExpiryConfig,
    postgres: PostgresResource,
    staging: StagingArea,
) -> dg.Output[None]:
    """Deletes old succeeded batches' staged files, then their report files, then their
    rejects rows (in small transactions), noting each in the batch's ledger row; a batch
    that has not succeeded, or whose held rows wait, keeps everything."""
    store = staging.store()
    limit = config.batches_per_run
    with postgres.connect("import_pipeline expiry") as conn:
        staged = expiry.expirable(conn, expiry.STAGED, config.staged_days, limit)
        for key in staged:
            for entity in ENTITIES:
                store.clear(layout.staged_folder(key, entity))
                store.clear(layout.changes_folder(key, entity))
            expiry.note(conn, key, [expiry.STAGED])
        reports = expiry.expirable(conn, expiry.REPORTS, config.reports_days, limit)
        for key in reports:
            store.clear(f"{key}/")
            expiry.note(conn, key, [expiry.REPORTS, expiry.STAGED])
        rejected = expiry.expirable(conn, expiry.REJECTS, config.rejects_days, limit)
        rows = sum(expiry.delete_rejects(conn, key, config.chunk_rows) for key in rejected)
    context.log.info(
        f"expired: staged files of {len(staged)} batches, report files of {len(reports)}, "
        f"{rows} rejects rows of {len(rejected)}"
    )
    return dg.Output(
        None,
        metadata={
            "staged_batches": len(staged),
            "report_batches": len(reports),
            "rejects_batches": len(rejected),
            "rejects_rows": rows,
        },
    )


@dg.job(description="Delete old batches' staged files, report files and rejects rows.")
def expire_files() -> None:
    expire_batches()


expire_files_daily = dg.ScheduleDefinition(
    job=expire_files,
    cron_schedule="15 4 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily expiry of staged and report files and rejects rows (04:15 UTC).",
)
