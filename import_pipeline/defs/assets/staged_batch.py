"""staged_batch: read the landed batch (one file or a folder) once, validate, dedupe, stage."""

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import polars as pl

from import_pipeline.core.errors import ImportFileError
from import_pipeline.core.profiles import load_profile
from import_pipeline.core.rejects import write_rejects_csv
from import_pipeline.core.stage import StagedBatch, check_reject_rate, read_batch
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
from import_pipeline.files import layout

STEP = "staged_batch"


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
        with (
            ledger.failures_recorded(conn, key, context.run_id),
            named_failure(),
            tempfile.TemporaryDirectory(prefix="stage-") as work,
        ):
            workdir = Path(work)
            files, manifest = landing.fetch_batch(
                batch.uri, batch.version, batch.file_name, workdir
            )
            profile = load_profile(batch.profile)
            read = read_batch(files, batch.file_name, batch.landed_at, profile, workdir, manifest)
            check_reject_rate(read, profile.reject_threshold(settings.max_reject_rate))
            staged = _stage(read, key, staging, settings.chunk_rows)
            rejects_path = _write_rejects(staged, key, staging, workdir)
            preview = staged.rejects().head(metadata.PREVIEW_ROWS).collect()
            for entity, part in staged.entities.items():
                ledger.save_rejects(conn, key, entity, part.rejects())
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
            "rejects_preview": metadata.rejects_preview(preview),
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


def _stage(read: StagedBatch, key: str, staging: StagingArea, row_group: int) -> StagedBatch:
    """Dedupe each entity into its staged folder, one Parquet file per key range (named in
    key order), replacing whatever an earlier run of this batch staged there."""
    store = staging.store()
    for entity in read.entities:
        store.clear(layout.staged_folder(key, entity))
    written: dict[str, int] = {}

    def write(entity: str, rows: pl.DataFrame) -> None:
        index = written.get(entity, 0)
        written[entity] = index + 1
        store.write_parquet(rows, layout.staged_part(key, entity, index), row_group)

    return read.deduped(write)


def _write_rejects(
    staged: StagedBatch, key: str, staging: StagingArea, workdir: Path
) -> str | None:
    """The batch's rejects CSV, streamed to disk and then into the staging area."""
    if not staged.rejected:
        return None
    path = workdir / layout.REJECTS_FILE
    write_rejects_csv(staged.rejects(), path)
    return staging.store().put_file(path, layout.rejects_file(key))


def _summary(staged: StagedBatch) -> dict[str, int | float]:
    return {
        "rows_read": staged.rows_read,
        "rows_staged": staged.rows_staged,
        "rejected": staged.rejected,
        "reject_rate": round(staged.reject_rate, 6),
    }
