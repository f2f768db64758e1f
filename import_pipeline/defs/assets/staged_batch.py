"""staged_batch: read the landed batch (one file or a folder) once, validate, dedupe, stage."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import polars as pl

from import_pipeline.core.errors import ImportFileError
from import_pipeline.core.profiles import load_profile
from import_pipeline.core.rejects import rejects_csv
from import_pipeline.core.stage import StagedBatch, check_reject_rate, stage_files
from import_pipeline.db import ledger
from import_pipeline.defs import metadata
from import_pipeline.defs.jobs import IMPORT_GROUP
from import_pipeline.defs.partitions import batches
from import_pipeline.defs.resources import (
    ImportSettings,
    LandingZone,
    PostgresResource,
    StagingArea,
)

REJECTS_FILE = "rejects.csv"
STEP = "staged_batch"


def staged_name(entity: str) -> str:
    return f"{entity}.parquet"


@dg.asset(partitions_def=batches, group_name=IMPORT_GROUP, kinds={"polars", "parquet"})
def staged_batch(
    context: dg.AssetExecutionContext,
    postgres: PostgresResource,
    landing: LandingZone,
    staging: StagingArea,
    settings: ImportSettings,
) -> dg.MaterializeResult:
    """Reads the landed batch (a file, or every file of a marked folder) once, checks every
    row against its entity's rules, keeps the newest row per key and stages Parquet per
    entity plus a rejects CSV. A file that cannot be loaded fails the batch here with a
    named error, before anything reaches the tables."""
    key = context.partition_key
    started = time.monotonic()
    with postgres.connect() as conn:
        batch = ledger.get(conn, key)
        if batch is None:
            raise dg.Failure(
                f"batch {key} is not in the ledger (ingest.files): batches are registered by "
                "the landing sensors, so drop the file into the landing zone instead."
            )
        ledger.start(conn, key, context.run_id)
        with ledger.failures_recorded(conn, key, context.run_id), named_failure():
            files, manifest = landing.read_batch(batch.uri, batch.version, batch.file_name)
            profile = load_profile(batch.profile)
            staged = stage_files(files, batch.file_name, batch.landed_at, profile, manifest)
            check_reject_rate(staged, profile.reject_threshold(settings.max_reject_rate))
            rejects = staged.rejects()
            rejects_path = _write(staged, rejects, key, staging, settings.chunk_rows)
            for entity, part in staged.entities.items():
                ledger.save_rejects(conn, key, entity, part.rejects)
            ledger.set_total(conn, key, staged.rows_staged)
            ledger.record(conn, key, STEP, _summary(staged))
    return dg.MaterializeResult(
        metadata={
            "uri": batch.uri,
            "tenant": batch.tenant,
            "profile": batch.profile,
            "files": len(files),
            **_summary(staged),
            "rejects_by_rule": metadata.rejects_by_rule(staged.rejects_by_rule()),
            "rejects_preview": metadata.rejects_preview(rejects),
            "rejects_file": dg.MetadataValue.path(rejects_path or "no rejects"),
            "duration_s": round(time.monotonic() - started, 3),
            **metadata.stage_metadata(staged),
        }
    )


@contextmanager
def named_failure() -> Iterator[None]:
    """Show a file-level error in the UI as what it is (name, file, fix), not a traceback."""
    try:
        yield
    except ImportFileError as exc:
        raise dg.Failure(
            description=str(exc),
            metadata={"error": type(exc).__name__, "file": exc.file_name, "fix": exc.fix},
            allow_retries=False,
        ) from exc


def _write(
    staged: StagedBatch, rejects: pl.DataFrame, key: str, staging: StagingArea, row_group: int
) -> str | None:
    """Stage each entity's rows as Parquet (always, empty too) and the rejects CSV."""
    for entity, part in staged.entities.items():
        staging.write_parquet(part.rows, key, staged_name(entity), row_group)
    if not rejects.height:
        return None
    return staging.write_bytes(rejects_csv(rejects), key, REJECTS_FILE)


def _summary(staged: StagedBatch) -> dict[str, int | float]:
    return {
        "rows_read": staged.rows_read,
        "rows_staged": staged.rows_staged,
        "rejected": staged.rejected,
        "reject_rate": round(staged.reject_rate, 6),
    }
