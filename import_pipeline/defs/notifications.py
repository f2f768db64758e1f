"""Run-status sensors that post each import run's outcome to the configured webhooks.

They run after a run has finished, in the daemon, so a slow or failing webhook can never
fail or block a load: every delivery problem is logged and the sensor moves on. A failed
run that Dagster's run retries will run again announces "retrying", not an outcome: the
batch's final outcome is its last attempt's.
"""

import dagster as dg

from import_pipeline.core.notify import body_of, post, require_secret
from import_pipeline.db import ledger
from import_pipeline.defs.jobs import import_batch
from import_pipeline.defs.partitions import run_batch_keys
from import_pipeline.defs.resources import Notifier, PostgresResource

WILL_RETRY_TAG = "dagster/will_retry"
"""Set by Dagster on a failed run when its run retries (dagster.yaml) will re-execute it."""
RETRY_NUMBER_TAG = "dagster/retry_number"
"""Set by Dagster on a run that re-executes a failed one: 1 for the first retry."""


def summary(run: dg.DagsterRun, status: str, postgres: PostgresResource, ui: str, key: str) -> dict:
    """Batch, tenant, status, counts, rejects file and a UI link, from the ledger row; in a
    run of many files, `status` is the run's and `ledger_status` the file's own."""
    with postgres.connect() as conn:
        row = ledger.outcome(conn, key) or {}
    return {
        "batch": key,
        "tenant": row.get("tenant"),
        "uri": row.get("uri"),
        "profile": row.get("profile"),
        "status": status,
        "ledger_status": row.get("status"),
        "attempt": int(run.tags.get(RETRY_NUMBER_TAG, "0")) + 1,
        "rows_total": row.get("rows_total"),
        "counts": row.get("counts") or {},
        "error": row.get("error"),
        "rejects_file": row.get("rejects_file"),
        "duplicates_file": row.get("duplicates_file"),
        "run_id": run.run_id,
        "ui_url": f"{ui.rstrip('/')}/runs/{run.run_id}",
    }


def notify(
    context: dg.RunStatusSensorContext,
    status: str,
    notifier: Notifier,
    postgres: PostgresResource,
    keys: list[str] | None = None,
) -> None:
    """Post the summary of each of the run's batches (`keys`, read from the run's tags
    when not given) to every webhook; URLs without a secret fail the sensor's tick with
    `UnsignedWebhooks` (shown in the UI) rather than send anything unsigned."""
    require_secret(notifier.urls, notifier.secret)
    if not notifier.urls:
        return
    run = context.dagster_run
    if keys is None:
        keys = run_batch_keys(dict(run.tags), context.instance)
    for key in keys or [""]:
        try:
            body = body_of(summary(run, status, postgres, notifier.ui_base_url, key))
        except Exception as exc:  # a notification must never stop the sensor
            context.log.warning(f"no notification for run {run.run_id}: {exc}")
            return
        deliver(context, notifier, run, body)


def deliver(
    context: dg.RunStatusSensorContext, notifier: Notifier, run: dg.DagsterRun, body: bytes
) -> None:
    """One summary to every webhook; a failed delivery is logged."""
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


def will_retry(context: dg.RunFailureSensorContext) -> bool:
    """Whether Dagster will re-execute the failed run (read from storage: the tag is added
    when the failure is stored)."""
    run = context.instance.get_run_by_id(context.dagster_run.run_id) or context.dagster_run
    return run.tags.get(WILL_RETRY_TAG, "").lower() == "true"


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[import_batch],
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def notify_on_success(
    context: dg.RunStatusSensorContext,
    notifier: Notifier,
    postgres: PostgresResource,
) -> None:
    """Posts the summary of every successful import run to the webhooks."""
    notify(context, "succeeded", notifier, postgres)


@dg.run_failure_sensor(
    monitored_jobs=[import_batch],
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def notify_on_failure(
    context: dg.RunFailureSensorContext,
    notifier: Notifier,
    postgres: PostgresResource,
) -> None:
    """Posts "retrying" for a failed import run Dagster will run again, else "failed" with
    the ledger's error; a run whose worker died before it could record its failure (the
    ledger still says running) is marked failed first, so the webhook tells the final
    status."""
    if will_retry(context):
        notify(context, "retrying", notifier, postgres)
        return
    run = context.dagster_run
    keys = run_batch_keys(dict(run.tags), context.instance)
    reason = context.failure_event.message or "no reason recorded"
    with postgres.connect() as conn:
        for key in keys:
            ledger.fail_unfinished(
                conn,
                key,
                run.run_id,
                f"run {run.run_id} ended without recording an outcome: {reason}",
            )
    notify(context, "failed", notifier, postgres, keys)
