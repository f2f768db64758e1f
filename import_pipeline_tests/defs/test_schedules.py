"""The daily reconciliation requests what the ledger lacks, failed, or left stuck."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg2
import pytest

from import_pipeline.definitions import defs as load_definitions
from import_pipeline.defs.in_process import run, tick
from import_pipeline.defs.partitions import batches
from import_pipeline.defs.resources import ImportSettings, LandingZone, PostgresResource
from import_pipeline.defs.schedules import reconciliation_schedule
from import_pipeline.defs.sensors import TAG_URI
from import_pipeline_tests.support import query, write_csv

pytestmark = pytest.mark.postgres

CUSTOMERS = [{"customer_id": "C1", "email": "ada@example.com"}]


def reconcile(instance: dg.DagsterInstance, landing, database_url: str):
    resources = {
        "landing": LandingZone(url=str(landing), settle_seconds=0),
        "postgres": PostgresResource(url=database_url),
        "settings": ImportSettings(stuck_after_hours=1),
    }
    with dg.build_schedule_context(
        instance=instance,
        resources=resources,
        scheduled_execution_time=datetime(2026, 11, 23, 3, tzinfo=UTC),
    ) as ctx:
        return reconciliation_schedule(ctx)


def test_it_requests_missing_failed_and_stuck_batches_but_not_loaded_ones(
    instance, landing, pipeline_env
):
    for name in ("loaded", "failed", "stuck", "fresh"):
        write_csv(landing / f"customers_{name}.csv", CUSTOMERS)
    first = tick(instance, landing, pipeline_env, max_files_per_run=1)
    by_name = {r.tags[TAG_URI].rsplit("_", 1)[1]: r for r in first.run_requests}
    assert run(load_definitions(), instance, by_name["loaded.csv"]).success
    for status, name, hours in (
        ("failed", "failed", 0),
        ("queued", "stuck", 2),
        ("queued", "fresh", 0),
    ):
        set_status(pipeline_env, name, status, datetime.now(UTC) - timedelta(hours=hours))
    write_csv(landing / "customers_missed.csv", CUSTOMERS)

    requests = reconcile(instance, landing, pipeline_env)
    names = sorted(r.tags[TAG_URI].rsplit("_", 1)[1] for r in requests)
    assert names == ["failed.csv", "missed.csv", "stuck.csv"]
    assert all(r.run_key.startswith("reconcile-2026-11-23-") for r in requests)
    partitions = set(instance.get_dynamic_partitions(batches.name))
    assert {r.partition_key for r in requests} <= partitions
    missed = next(r for r in requests if r.tags[TAG_URI].endswith("missed.csv"))
    assert run(load_definitions(), instance, missed).success


def test_it_skips_when_everything_is_loaded(instance, landing, pipeline_env):
    write_csv(landing / "customers_1.csv", CUSTOMERS)
    (request,) = tick(instance, landing, pipeline_env).run_requests
    assert run(load_definitions(), instance, request).success
    assert isinstance(reconcile(instance, landing, pipeline_env), dg.SkipReason)


def set_status(database_url: str, name: str, status: str, registered_at: datetime) -> None:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET status = %s, registered_at = %s WHERE uri LIKE %s",
            (status, registered_at, f"%{name}.csv"),
        )
    conn.close()


def set_failure(database_url: str, name: str, status: str, retryable: bool | None, run_id=None):
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET status = %s, retryable = %s, run_id = %s WHERE uri LIKE %s",
            (status, retryable, run_id, f"%{name}.csv"),
        )
    conn.close()


def requested_names(requests) -> list[str]:
    return sorted(r.tags[TAG_URI].rsplit("_", 1)[1] for r in requests)


def test_it_retries_failures_that_can_heal_and_leaves_file_errors_and_cancels_to_a_person(
    instance, landing, pipeline_env
):
    for name in ("lost", "badfile", "cancelled"):
        write_csv(landing / f"customers_{name}.csv", CUSTOMERS)
    tick(instance, landing, pipeline_env)
    set_failure(pipeline_env, "lost", "failed", True)
    set_failure(pipeline_env, "badfile", "failed", False)
    set_failure(pipeline_env, "cancelled", "cancelled", False)

    assert requested_names(reconcile(instance, landing, pipeline_env)) == ["lost.csv"]


def test_a_batch_running_under_a_run_that_ended_is_failed_and_requested_at_once(
    instance, landing, pipeline_env
):
    for name in ("dead", "alive", "stopped"):
        write_csv(landing / f"customers_{name}.csv", CUSTOMERS)
    tick(instance, landing, pipeline_env)
    runs = {}
    for name, status in (
        ("dead", dg.DagsterRunStatus.FAILURE),
        ("alive", dg.DagsterRunStatus.STARTED),
        ("stopped", dg.DagsterRunStatus.CANCELED),
    ):
        runs[name] = instance.add_run(dg.DagsterRun(job_name="import_batch", status=status))
        set_failure(pipeline_env, name, "running", None, runs[name].run_id)

    assert requested_names(reconcile(instance, landing, pipeline_env)) == ["dead.csv"]
    ledger = "SELECT uri, status, retryable, error FROM ingest.files ORDER BY uri"
    rows = {uri.rsplit("_", 1)[1]: rest for uri, *rest in query(pipeline_env, ledger)}
    assert rows["alive.csv"] == ["running", None, None]
    assert rows["stopped.csv"][:2] == ["cancelled", False]
    status, retryable, error = rows["dead.csv"]
    assert (status, retryable) == ("failed", True)
    assert error.startswith(f"DeadRun: run {runs['dead'].run_id} ended (FAILURE)")
