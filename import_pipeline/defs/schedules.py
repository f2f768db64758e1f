"""Schedules: the daily reconciliation of the landing zone against the ledger."""

from datetime import UTC, datetime

import dagster as dg
from psycopg2.extensions import connection

from import_pipeline.core.landing import settled
from import_pipeline.db import ledger
from import_pipeline.defs.jobs import import_batch
from import_pipeline.defs.partitions import batches
from import_pipeline.defs.resources import ImportSettings, LandingZone, PostgresResource
from import_pipeline.defs.sensors import Wanted, parents_first, request_runs, run_request


@dg.schedule(
    job=import_batch,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def reconciliation_schedule(
    context: dg.ScheduleEvaluationContext,
    landing: LandingZone,
    postgres: PostgresResource,
    settings: ImportSettings,
) -> list[dg.RunRequest] | dg.SkipReason:
    """Lists the whole landing zone (no per-tick bound) and requests every batch the
    ledger lacks, records as failed for a reason a retry can heal, has running under a
    run that is no longer alive, or has had queued or running for longer than
    `stuck_after_hours`: whatever a sensor missed or a crash left behind loads by morning.
    A named file error waits for a person, and a batch a person cancelled stays so."""
    landed, _ = settled(
        landing.batches(landing.list_files()), {}, datetime.now(UTC), landing.settle_seconds
    )
    todo, _ = request_runs(landed, postgres, reconcilable(context.instance, settings))
    if not todo:
        return dg.SkipReason(f"all {len(landed)} landed batches are in the ledger and not failed")
    # NOTE: a schedule cannot return dynamic partition requests (only sensors can), so it
    # adds the partitions itself before requesting runs of them.
    context.instance.add_dynamic_partitions(batches.name, [b.partition_key for b in todo])
    day = (context.scheduled_execution_time or datetime.now(UTC)).date().isoformat()
    return [run_request(b, f"reconcile-{day}-{b.partition_key}") for b in parents_first(todo)]


def reconcilable(instance: dg.DagsterInstance, settings: ImportSettings) -> Wanted:
    """The ledger's batches to request, after closing those it has running under a run
    the instance says has ended (a killed worker, a force-cancel): cancelled when a person
    cancelled the run, else failed, and so retried, at once instead of after hours."""

    def wanted(conn: connection, keys: list[str]) -> set[str]:
        for key, run_id in ledger.running(conn, keys).items():
            run = instance.get_run_by_id(run_id)
            if run is not None and not run.is_finished:
                continue
            if run is not None and run.status == dg.DagsterRunStatus.CANCELED:
                ledger.cancel(conn, key, run_id)
            else:
                ended = run.status.value if run else "not found in the instance"
                reason = f"DeadRun: run {run_id} ended ({ended}) before the batch was loaded"
                ledger.fail(conn, key, run_id, reason, retryable=True)
        return ledger.reconcilable(conn, keys, settings.stuck_after_hours)

    return wanted
