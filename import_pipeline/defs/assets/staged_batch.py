"""staged_batch: read the landed batch (one file or a folder) once, validate, dedupe, stage."""

import tempfile
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from psycopg2.extensions import connection

from import_pipeline.core.batch_profiles import BatchProfiles, batch_profiles, single
from import_pipeline.core.drift import Drift, DriftPolicy
from import_pipeline.core.entities import ENTITIES
from import_pipeline.core.errors import ImportFileError
from import_pipeline.core.manifest import Manifest
from import_pipeline.core.profiles import load_profile
from import_pipeline.core.reject_rate import too_many_rejects
from import_pipeline.core.rejects import write_rejects_csv, write_safe_csv
from import_pipeline.core.report import PARTIAL_FIELDS
from import_pipeline.core.stage import LandedFile, StagedBatch, read_batch
from import_pipeline.db.failures import is_transient
from import_pipeline.defs import checks, drift, metadata
from import_pipeline.defs.batch_lock import BatchLock
from import_pipeline.defs.jobs import IMPORT_GROUP
from import_pipeline.defs.partitions import batches
from import_pipeline.defs.resources import (
    ImportSettings,
    LandingZone,
    PostgresResource,
    StagingArea,
)
from import_pipeline.defs.step_failures import transient_retried
from import_pipeline.defs.summary import FilesFailed
from import_pipeline.files import layout
from import_pipeline.load import staging as staging_ledger
from import_pipeline.load.processed import fetch_landed
from import_pipeline.load.replay import Replay, replay_of
from import_pipeline.load.staged_files import put_report, write_staged
from import_pipeline.load.staging import STEP


class StagingProgress:
    """Mirrors rows read and validated into the ledger after every block of a file, and
    logs them at most every LOG_EVERY seconds, so a large file shows life from the start."""

    LOG_EVERY = 5.0

    def __init__(self, context: dg.AssetExecutionContext, conn: connection, key: str):
        self.context, self.conn, self.key = context, conn, key
        self.started = self.logged = time.monotonic()

    def __call__(self, read: int, validated: int) -> None:
        staging_ledger.record_progress(self.conn, self.key, read, validated)
        now = time.monotonic()
        if now - self.logged < self.LOG_EVERY:
            return
        self.logged = now
        rate = read / (now - self.started)
        self.context.log.info(
            f"staging: {read:,} rows read, {validated:,} validated, {rate:,.0f} rows/s"
        )


DESCRIPTION = (
    "Reads the landed batch (a file, or every file of a marked folder) once, checks every "
    "row against its entity's rules, keeps the newest row per key and stages Parquet per "
    "entity plus a rejects CSV. A file that cannot be loaded fails the batch here with a "
    "named error, before anything reaches the tables; a batch with too many rejects writes "
    "its rejects report first, then fails."
)


# NOTE: a multi-asset of one asset, so that its `schema_drift` check is reported with the
# materialization (no step of its own) and can still be left out of a selection.
@dg.multi_asset(
    name=STEP,
    specs=[
        dg.AssetSpec(
            STEP,
            description=DESCRIPTION,
            group_name=IMPORT_GROUP,
            kinds={"polars", "parquet"},
            partitions_def=batches,
        )
    ],
    check_specs=[drift.CHECK],
    partitions_def=batches,
    can_subset=True,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def staged_batch(
    context: dg.AssetExecutionContext,
    postgres: PostgresResource,
    landing: LandingZone,
    staging: StagingArea,
    settings: ImportSettings,
    batch_lock: BatchLock,
) -> Iterator[dg.MaterializeResult | dg.AssetObservation]:
    """Stages each batch of the run (see DESCRIPTION) and judges its schema drift. In a
    run of many files, a failed file fails alone (its ledger row and its partition's
    metadata say why) and the others go on."""
    keys = context.partition_keys
    checked = drift.CHECK.key in context.selected_asset_check_keys
    failures: dict[str, Exception] = {}
    check_results: list[dg.AssetCheckResult] = []
    with transient_retried(context, settings), postgres.connect() as conn:
        batch_lock.confirm()
        for key in keys:
            try:
                values, drifted, policies = yield from stage_one(
                    context, key, conn, postgres, landing, staging, settings, alone=len(keys) == 1
                )
            except Exception as error:
                if len(keys) == 1 or is_transient(error):
                    raise
                failures[key] = error
                reported = error.metadata if isinstance(error, dg.Failure) else {}
                values = {"outcome": f"failed: {error}", **reported}
                context.log.error(f"{key}: {error}")
            else:
                if checked and len(keys) == 1:
                    check_results.append(drift.check_result(drifted, policies))
                elif checked:
                    context.log_event(drift.evaluation(drifted, policies, key))
            if len(keys) > 1:
                context.add_asset_metadata(values, asset_key=STEP, partition_key=key)
    if len(failures) == len(keys):
        raise FilesFailed(failures)
    # A run of many files materialises every partition of its range (Dagster's unit); a
    # failed file's partition carries `outcome: failed: ...` and loads no entity.
    yield dg.MaterializeResult(
        asset_key=STEP, metadata=values if len(keys) == 1 else {}, check_results=check_results
    )


def _quiet(_: str) -> None:
    """Logs nothing: the batch's report is its partition's metadata."""


def stage_one(
    context: dg.AssetExecutionContext,
    key: str,
    conn: connection,
    postgres: PostgresResource,
    landing: LandingZone,
    staging: StagingArea,
    settings: ImportSettings,
    alone: bool,
) -> Generator[dg.AssetObservation, None, tuple[metadata.Metadata, Drift, dict[str, DriftPolicy]]]:
    """Stage one batch of the run and record it in the ledger; return its report and its
    drift. A batch `alone` in its run logs what it does; in a run of many files, each log
    line (an event the instance stores, ~10 ms) would cost more than staging a small file."""
    log = context.log.info if alone else _quiet
    started = time.monotonic()
    failure_report: metadata.Metadata = {}
    batch = staging_ledger.start_batch(conn, key, context.run_id)
    if batch is None:
        raise dg.Failure(
            f"batch {key} is not in the ledger (ingest.files): batches are registered by "
            "the landing sensors, so drop the file into the landing zone instead."
        )
    with (
        staging_ledger.failures_recorded(postgres.connect, key, context.run_id),
        named_failure(failure_report),
        tempfile.TemporaryDirectory(prefix="stage-") as work,
    ):
        workdir = Path(work)
        files, manifest = fetch_landed(landing.store(), conn, batch, workdir)
        log(f"staging: reading {len(files)} file(s) of {batch.file_name}")
        replay = replay_of(conn, batch, files)
        profiles = _profiles(batch.profile, batch.uri, files, manifest, replay)
        threshold = profiles.reject_threshold(settings.max_reject_rate)
        first_rows = None if replay else drift.FirstRows()
        read = read_batch(
            files,
            batch.file_name,
            batch.landed_at,
            profiles,
            workdir,
            manifest,
            progress=StagingProgress(context, conn, key),
            first_rows=first_rows,
        )
        policies = profiles.drift()
        drifted = drift.judge(profiles, policies, first_rows, read) if first_rows else Drift()
        staging_ledger.record_drift(conn, key, drifted)
        drift_report = drift.metadata(drifted)
        refused = drift.refusal(drifted, policies, batch.file_name)
        if refused is not None:
            context.log_event(drift.evaluation(drifted, policies, key))
            failure_report.update(drift_report)
            yield dg.AssetObservation(
                asset_key=STEP,
                partition=key,
                description=str(refused),
                metadata={"outcome": "failed: schema drift", **drift_report},
            )
            raise refused
        failure = too_many_rejects(read, threshold)
        log(
            f"staging: {read.rows_read:,} rows read, {read.reached_validation:,} validated, "
            f"{read.rejected:,} rejected; "
            + ("writing the rejects report" if failure else "deduping and writing")
        )
        staged = read if failure else write_staged(read, key, staging.store(), settings.chunk_rows)
        values = {
            "uri": batch.uri,
            "tenant": batch.tenant,
            "profile": batch.profile,
            "profiles": dg.MetadataValue.json(profiles.names()),
            "files": len(files),
            **(replay.metadata if replay else {}),
            **_summary(staged),
            **drift_report,
            **_publish(conn, key, staged, staging, workdir, threshold, settings),
            "duration_s": round(time.monotonic() - started, 3),
            **metadata.stage_metadata(staged),
            **metadata.lookup_metadata(staged),
        }
        if failure is not None:
            for event in _reject_rate_evaluations(staged, threshold, key):
                context.log_event(event)
            context.log_event(drift.evaluation(drifted, policies, key))
            # NOTE: events logged by the step are only stored when it yields; the
            # observation (the report of a batch that stages nothing) flushes them.
            outcome = {"outcome": f"failed: {failure}"}
            yield dg.AssetObservation(
                asset_key=STEP,
                partition=key,
                description=str(failure),
                metadata={**outcome, **values},
            )
            failure_report.update(values)
            raise failure
        staging_ledger.finish_staging(conn, key, staged.rows_staged, _summary(staged))
    return values, drifted, policies


def _profiles(
    batch_profile: str,
    uri: str,
    files: list[LandedFile],
    manifest: Manifest,
    replay: Replay | None,
) -> BatchProfiles:
    """Each file's profile: a replay's files are read as rejects files; a one-file batch
    keeps the profile it was registered with; the files of a folder are mapped each by
    its own (see core/batch_profiles.py)."""
    named = [(f.name, f.path) for f in files]
    if replay is not None:
        return single(replay.profile, named)
    profile = load_profile(batch_profile)
    if not uri.endswith("/"):
        return single(profile, named)
    return batch_profiles(named, profile, manifest)


@contextmanager
def named_failure(report_so_far: metadata.Metadata | None = None) -> Iterator[None]:
    """Show a file-level error in the UI as what it is (name, file, fix), not a traceback,
    with whatever report the batch wrote before it failed (its rejects)."""
    try:
        yield
    except ImportFileError as exc:
        raise dg.Failure(
            description=str(exc),
            metadata={
                "error": type(exc).__name__,
                "file": exc.file_name,
                "fix": exc.fix,
                **(report_so_far or {}),
            },
            allow_retries=False,
        ) from exc


def _publish(
    conn: connection,
    key: str,
    staged: StagedBatch,
    staging: StagingArea,
    workdir: Path,
    threshold: float,
    settings: ImportSettings,
) -> metadata.Metadata:
    """Write the batch's report where people and later steps find it: rejects and keys in
    conflict in Postgres and as CSVs beside the staged output, every entity's rows
    accounted for in the ledger; return it as metadata."""
    staging_ledger.save_rejects(conn, key, staged)
    rejects_path = duplicates_path = None
    if staged.rejected:
        rejects_path = put_report(
            staged.rejects(), write_rejects_csv, staging.store(), workdir, layout.rejects_file(key)
        )
    if any(e.report.conflicting_keys for e in staged.entities.values()):
        duplicates_path = put_report(
            staged.duplicates(),
            write_safe_csv,
            staging.store(),
            workdir,
            layout.duplicates_file(key),
        )
    accounting = {
        name: {
            **part.report.accounting(),
            "valid": part.report.valid,
            "threshold": threshold,
            PARTIAL_FIELDS: list(staged.partial_rows.get(name, ())),
        }
        for name, part in staged.present.items()
    }
    staging_ledger.record_accounting(conn, key, accounting, rejects_path, duplicates_path)
    seconds = int(settings.rejects_link_hours * 3600)
    rejects_link = rejects_path and staging.store().link(layout.rejects_file(key), seconds)
    duplicates_link = duplicates_path and staging.store().link(layout.duplicates_file(key), seconds)
    return {
        "summary": metadata.summary_table(accounting),
        "rejects_by_rule": metadata.rejects_by_rule(staged.rejects_by_rule()),
        "partial_rows": metadata.partial_rows(accounting),
        "skipped_by_reason": metadata.skipped_by_reason(staged),
        "rejects_preview": metadata.rejects_preview(
            staged.rejects().head(metadata.PREVIEW_ROWS).collect()
        ),
        "rejects_file": metadata.file_link(rejects_path, rejects_link, "no rejects"),
        "duplicates_preview": metadata.duplicates_preview(
            staged.duplicates().head(metadata.PREVIEW_ROWS).collect()
        ),
        "duplicates_file": metadata.file_link(
            duplicates_path, duplicates_link, "no conflicting duplicates"
        ),
    }


def _reject_rate_evaluations(
    staged: StagedBatch, threshold: float, key: str
) -> Iterator[dg.AssetCheckEvaluation]:
    for name, part in staged.present.items():
        r = part.report
        yield checks.reject_rate_evaluation(
            ENTITIES[name], r.rejected, r.reached_validation, threshold, key
        )


def _summary(staged: StagedBatch) -> dict[str, int | float]:
    return {
        "rows_read": staged.rows_read,
        "rows_staged": staged.rows_staged,
        "rejected": staged.rejected,
        "skipped": sum(e.report.rows_skipped for e in staged.entities.values()),
        "duplicates": sum(e.report.duplicates for e in staged.entities.values()),
        "reject_rate": round(staged.reject_rate, 6),
    }
