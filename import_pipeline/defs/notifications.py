"""Run-status sensors that post each import run's outcome to the configured webhooks.

They run after a run has finished, in the daemon, so a slow or failing webhook can never
fail or block a load: every delivery problem is logged and the sensor moves on.
"""

import dagster as dg

from import_pipeline.core.notify import body_of, post
from import_pipeline.db import ledger
from import_pipeline.defs.jobs import import_batch
from import_pipeline.defs.resources import Notifier, PostgresResource, StagingArea
from import_pipeline.files import layout

PARTITION_TAG = "dagster/partition"


def summary(
    run: dg.DagsterRun, status: str, postgres: PostgresResource, staging: StagingArea, ui: str
) -> dict:
    """Batch, tenant, status, counts, rejects file and a UI link, from the ledger row."""
    key = run.tags.get(PARTITION_TAG, "")
    with postgres.connect() as conn:
        row = ledger.outcome(conn, key) or {}
    rejected = (row.get("counts") or {}).get("staged_batch", {}).get("rejected", 0)
    return {
        "batch": key,
        "tenant": row.get("tenant"),
        "uri": row.get("uri"),
        "profile": row.get("profile"),
        "status": status,
        "ledger_status": row.get("status"),
        "rows_total": row.get("rows_total"),
        "counts": row.get("counts") or {},
        "error": row.get("error"),
        "rejects_file": staging.store().path(layout.rejects_file(key)) if rejected else None,
        "run_id": run.run_id,
        "ui_url": f"{ui.rstrip('/')}/runs/{run.run_id}",
    }


def notify(
    context: dg.RunStatusSensorContext,
    status: str,
    notifier: Notifier,
    postgres: PostgresResource,
    staging: StagingArea,
) -> None:
    if not notifier.urls:
        return
    run = context.dagster_run
    try:
        body = body_of(summary(run, status, postgres, staging, notifier.ui_base_url))
    except Exception as exc:  # a notification must never stop the sensor
        context.log.warning(f"no notification for run {run.run_id}: {exc}")
        return
    for url in notifier.urls:
        delivery = post(
            url,
            body,
            notifier.secret,
            notifier.timeout_seconds,
            notifier.retries,
            notifier.backoff_seconds,
        )
        if not delivery.delivered:
            context.log.warning(
                f"webhook {url} not notified of run {run.run_id} after "
                f"{delivery.attempts} attempt(s): {delivery.error}"
            )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[import_batch],
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def notify_on_success(
    context: dg.RunStatusSensorContext,
    notifier: Notifier,
    postgres: PostgresResource,
    staging: StagingArea,
) -> None:
    """Posts the summary of every successful import run to the webhooks."""
    notify(context, "succeeded", notifier, postgres, staging)


@dg.run_failure_sensor(
    monitored_jobs=[import_batch],
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def notify_on_failure(
    context: dg.RunFailureSensorContext,
    notifier: Notifier,
    postgres: PostgresResource,
    staging: StagingArea,
) -> None:
    """Posts the summary (with the ledger's error) of every failed import run to the webhooks."""
    notify(context, "failed", notifier, postgres, staging)
