"""Failures keep their cause, transient ones heal by retrying the step, Terminate stops a
load within a chunk, and one batch is loaded by one run at a time (real Postgres)."""

import threading
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
from dagster._utils import send_interrupt
from dagster._utils.interrupts import capture_interrupts

from import_pipeline.db import ledger
from import_pipeline.db.batch_lock import BatchBusy
from import_pipeline.defs.assets import loading
from import_pipeline.defs.in_process import materializations, run, tick
from import_pipeline.load import entity
from import_pipeline_tests.support import ORDER, query, write_csv

pytestmark = pytest.mark.postgres

CHUNK_ROWS = 100
CUSTOMERS = [{"customer_id": f"C{i:05}", "email": f"c{i}@example.com"} for i in range(3000)]
LEDGER = "SELECT status, error, retryable, rows_done, rows_total, run_id FROM ingest.files"


def config(**settings) -> dict:
    values = {"chunk_rows": CHUNK_ROWS, "retry_backoff_seconds": 0.1, **settings}
    return {"resources": {"settings": {"config": values}}}


def on_first_progress(monkeypatch: pytest.MonkeyPatch, action, chunk: int = 1) -> None:
    """Call `action(partition_key)` once, right after the progress of the run's `chunk`-th
    chunk is in the ledger (a real load is under way, with chunks still to go)."""
    real = ledger.progress
    calls: list[int] = []

    def progress(conn, partition_key: str, rows: int) -> None:
        real(conn, partition_key, rows)
        calls.append(rows)
        if len(calls) == chunk:
            action(partition_key)

    monkeypatch.setattr(ledger, "progress", progress)


def terminate_loaders(database_url: str) -> None:
    """Kill the connections that load chunks, as a network cut or an operator would."""
    with psycopg2.connect(database_url, application_name="test") as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            (entity.LOADER,),
        )
        assert cur.fetchone()[0] > 0
    conn.close()


def stop_seen(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """A wait, for after an interrupt, until the run's loads see the stop: on a busy machine
    the main thread may take its time to handle the interrupt, and chunks loaded meanwhile
    were loaded before the stop, not after it."""
    stops: list[loading.RunStop] = []
    made = loading.RunStop.__init__

    def init(self: loading.RunStop, context: dg.AssetExecutionContext) -> None:
        made(self, context)
        stops.append(self)

    monkeypatch.setattr(loading.RunStop, "__init__", init)

    def wait(timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not (stops and stops[-1].is_set()) and time.monotonic() < deadline:
            time.sleep(0.01)

    return wait


def settled_ledger(url: str, timeout: float = 60) -> list[tuple]:
    """The ledger once no load of the run is running any more: when Dagster's interrupt
    lands outside the step's code, the run ends while its loads finish their chunk."""
    deadline = time.monotonic() + timeout
    while (rows := query(url, LEDGER))[0][0] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    return rows


def customers_batch(instance, landing: Path, url: str) -> dg.RunRequest:
    write_csv(landing / "customers_1.csv", CUSTOMERS)
    (request,) = tick(instance, landing, url).run_requests
    return request


def step_events(result: dg.ExecuteInProcessResult, kind: dg.DagsterEventType) -> list:
    return [e for e in result.all_events if e.event_type == kind]


def test_a_connection_killed_mid_load_fails_the_batch_with_the_real_cause(
    defs, instance, landing, pipeline_env, monkeypatch
):
    request = customers_batch(instance, landing, pipeline_env)
    on_first_progress(monkeypatch, lambda _: terminate_loaders(pipeline_env))
    result = run(defs, instance, request, config(step_retries=0))

    assert not result.success
    (failure,) = step_events(result, dg.DagsterEventType.STEP_FAILURE)
    shown = failure.step_failure_data.error.to_string()
    assert "OperationalError" in shown
    assert "connection already closed" not in shown
    ((status, reason, retryable, done, total, run_id),) = query(pipeline_env, LEDGER)
    assert (status, retryable, run_id) == ("failed", True, result.run_id)
    assert reason.split(":")[0] in ("AdminShutdown", "OperationalError"), reason
    assert "connection already closed" not in reason
    assert done < total


def test_a_connection_killed_once_is_retried_and_the_batch_converges(
    defs, instance, landing, pipeline_env, monkeypatch
):
    request = customers_batch(instance, landing, pipeline_env)
    on_first_progress(monkeypatch, lambda _: terminate_loaders(pipeline_env))
    result = run(defs, instance, request, config(step_retries=2))

    assert result.success
    assert len(step_events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY)) == 1
    assert query(pipeline_env, "SELECT count(*) FROM commerce.customers") == [(len(CUSTOMERS),)]
    ((status, reason, retryable, done, total, run_id),) = query(pipeline_env, LEDGER)
    assert (status, reason, retryable, run_id) == ("succeeded", None, None, result.run_id)
    assert done == total == len(CUSTOMERS)


def test_a_named_file_error_is_final_and_not_retried(defs, instance, landing, pipeline_env):
    write_csv(landing / "orders_1.csv", [{"order_id": "O1", "status": "paid"}])
    (request,) = tick(instance, landing, pipeline_env).run_requests
    result = run(defs, instance, request, config(step_retries=2))

    assert not result.success
    assert step_events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY) == []
    ((status, reason, retryable, *_),) = query(pipeline_env, LEDGER)
    assert (status, retryable) == ("failed", False)
    assert reason.startswith("MissingColumns: orders_1.csv")


def test_terminate_stops_the_load_within_a_chunk_and_the_ledger_says_cancelled(
    defs, instance, landing, pipeline_env, monkeypatch
):
    request = customers_batch(instance, landing, pipeline_env)
    stopped_at: list[int] = []
    wait_for_the_stop = stop_seen(monkeypatch)

    def terminate(partition_key: str) -> None:
        """What Terminate does to a run: mark it canceling, interrupt its main thread."""
        ((run_id,),) = query(pipeline_env, "SELECT run_id FROM ingest.files")
        ((rows,),) = query(pipeline_env, "SELECT rows_done FROM ingest.files")
        stopped_at.append(rows)
        instance.report_run_canceling(instance.get_run_by_id(run_id))
        send_interrupt()
        wait_for_the_stop()

    on_first_progress(monkeypatch, terminate)
    with capture_interrupts():
        result = run(defs, instance, request, config(load_connections=2))

    assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.CANCELED
    ((status, _, retryable, done, total, _),) = settled_ledger(pipeline_env)
    assert (status, retryable) == ("cancelled", False)
    ((loaded,),) = query(pipeline_env, "SELECT count(*) FROM commerce.customers")
    assert loaded == done < total
    in_flight = 2 * CHUNK_ROWS  # a chunk on each loader connection when the stop came
    assert loaded <= stopped_at[0] + in_flight


def test_terminate_materialises_the_entities_that_had_completed(
    defs, instance, landing, pipeline_env, monkeypatch
):
    drop = landing / "batch_1"
    drop.mkdir()
    customers = CUSTOMERS[:10]
    orders = [{**ORDER, "order_id": f"O{i:05}", "customer_id": "C00001"} for i in range(3000)]
    write_csv(drop / "customers.csv", customers)
    write_csv(drop / "orders.csv", orders)
    (drop / "_SUCCESS").touch()
    (request,) = tick(instance, landing, pipeline_env).run_requests

    def terminate(_: str) -> None:
        ((run_id,),) = query(pipeline_env, "SELECT run_id FROM ingest.files")
        instance.report_run_canceling(instance.get_run_by_id(run_id))
        send_interrupt()

    on_first_progress(monkeypatch, terminate, chunk=2)  # the customers' only chunk, then one
    # The interrupt may land in Dagster's event handling, not in the step: then the loads
    # learn of the stop from the run's status, looked up here sooner than once a second.
    monkeypatch.setattr(loading.RunStop, "CHECK_EVERY", 0.05)
    with capture_interrupts():
        result = run(defs, instance, request, config())

    assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.CANCELED
    assert len(materializations(result, "customers")) == 1
    assert materializations(result, "orders") == []
    ((status, _, _, done, total, _),) = settled_ledger(pipeline_env)
    ((loaded,),) = query(pipeline_env, "SELECT count(*) FROM commerce.orders")
    assert status == "cancelled"
    assert done == len(customers) + loaded < total


def test_a_second_run_of_a_batch_being_loaded_fails_with_batch_busy(
    defs, instance, landing, pipeline_env, monkeypatch
):
    request = customers_batch(instance, landing, pipeline_env)
    second: list[dg.ExecuteInProcessResult] = []

    def run_the_batch_again(_: str) -> None:
        again = config()
        again["resources"]["batch_lock"] = {"config": {"url": pipeline_env, "wait_seconds": 1}}
        second.append(run(defs, instance, request, again))

    on_first_progress(monkeypatch, run_the_batch_again)
    first = run(defs, instance, request, config())

    assert first.success
    (busy,) = second
    assert not busy.success
    (failure,) = [e for e in busy.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE]
    assert f"{BatchBusy.__name__}: batch " in str(failure.event_specific_data)
    ((status, _, _, done, total, run_id),) = query(pipeline_env, LEDGER)
    assert (status, run_id, done, total) == (
        "succeeded",
        first.run_id,
        len(CUSTOMERS),
        len(CUSTOMERS),
    )


def import_job() -> dg.JobDefinition:
    """The import job, rebuilt from the code location (a re-execution reconstructs it)."""
    from import_pipeline.definitions import defs as load_definitions

    return load_definitions().resolve_job_def("import_batch")


def test_a_re_execution_from_failure_is_what_the_ledger_describes(
    defs, instance, landing, pipeline_env, monkeypatch
):
    request = customers_batch(instance, landing, pipeline_env)
    kill_once = threading.Event()

    def kill_first_run(_: str) -> None:
        if not kill_once.is_set():
            kill_once.set()
            terminate_loaders(pipeline_env)

    on_first_progress(monkeypatch, kill_first_run)
    failed = run(defs, instance, request, config(step_retries=0))
    assert not failed.success
    assert query(pipeline_env, LEDGER)[0][0] == "failed"

    from_failure = dg.ReexecutionOptions.from_failure(failed.run_id, instance)
    with dg.execute_job(
        dg.reconstructable(import_job),
        instance,
        run_config=config(step_retries=0),
        tags=failed.dagster_run.tags,  # the UI's re-execution keeps the partition too
        reexecution_options=from_failure,
    ) as retried:
        assert retried.success
        ((status, reason, _, done, total, run_id),) = query(pipeline_env, LEDGER)
        assert (status, reason, run_id) == ("succeeded", None, retried.run_id)
        assert done == total == len(CUSTOMERS)


def test_terminate_while_staging_leaves_the_batch_cancelled(
    defs, instance, landing, pipeline_env, monkeypatch
):
    request = customers_batch(instance, landing, pipeline_env)

    def set_total(conn, partition_key: str, rows: int) -> None:
        ((run_id,),) = query(pipeline_env, "SELECT run_id FROM ingest.files")
        instance.report_run_canceling(instance.get_run_by_id(run_id))
        send_interrupt()

    monkeypatch.setattr(ledger, "set_total", set_total)
    with capture_interrupts():
        result = run(defs, instance, request, config())

    assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.CANCELED
    assert query(pipeline_env, LEDGER)[0][:3] == ("cancelled", ledger.CANCELLED, False)
