"""Load semantics through real runs: held orphans, thresholds, checks, progress, overlap."""

import multiprocessing
import sys
import time

import dagster as dg
import polars as pl
import pytest

from import_pipeline.definitions import defs as load_definitions
from import_pipeline.defs.held_rows import retry_held_rows
from import_pipeline.defs.in_process import tick
from import_pipeline.load.entity import Progress
from import_pipeline_tests.support import (
    ORDER,
    check,
    drop_and_run,
    materialization,
    query,
    write_csv,
)


def settings(**values) -> dict:
    return {"resources": {"settings": {"config": values}}}


def test_an_order_before_its_customer_is_held_then_loaded_with_the_customer(
    defs, instance, landing, pipeline_env
):
    first = drop_and_run(defs, instance, landing, pipeline_env, "orders_1.csv", [ORDER])
    assert first.success
    assert materialization(first, "orders")["held"] == 1
    assert not check(first, "orders", "held_rows").passed
    assert query(pipeline_env, "SELECT entity, key, missing FROM ingest.held_rows") == [
        ("orders", "O1", ["customer_id"])
    ]
    assert query(pipeline_env, "SELECT count(*) FROM commerce.orders") == [(0,)]

    second = drop_and_run(
        defs, instance, landing, pipeline_env, "customers_1.csv", [{"customer_id": "C1"}]
    )
    assert second.success
    assert materialization(second, "orders")["resolved"] == 1
    assert check(second, "orders", "held_rows").passed
    loaded = "SELECT order_id, starts_with(_batch, 'orders_1') FROM commerce.orders"
    assert query(pipeline_env, loaded) == [("O1", True)]
    assert query(pipeline_env, "SELECT count(*) FROM ingest.held_rows") == [(0,)]


def test_a_held_row_older_than_the_max_age_becomes_a_reject(defs, instance, landing, pipeline_env):
    drop_and_run(defs, instance, landing, pipeline_env, "orders_1.csv", [ORDER])
    later = drop_and_run(
        defs,
        instance,
        landing,
        pipeline_env,
        "customers_9.csv",
        [{"customer_id": "C9"}],
        settings(held_max_age_hours=0),
    )
    assert materialization(later, "orders")["expired"] == 1
    assert query(pipeline_env, "SELECT entity, errors FROM ingest.rejects") == [
        ("orders", ["customer_id:parent_missing"])
    ]
    assert query(pipeline_env, "SELECT count(*) FROM ingest.held_rows") == [(0,)]


def test_the_retry_job_loads_held_rows_whose_parent_arrived_another_way(
    defs, instance, landing, pipeline_env
):
    drop_and_run(defs, instance, landing, pipeline_env, "orders_1.csv", [ORDER])
    query(
        pipeline_env,
        "INSERT INTO commerce.customers (tenant, customer_id, updated_at, _batch)"
        " VALUES ('default', 'C1', now(), 'manual') RETURNING 1",
    )
    result = defs.resolve_job_def(retry_held_rows.name).execute_in_process(instance=instance)
    assert result.success
    assert query(pipeline_env, "SELECT order_id FROM commerce.orders") == [("O1",)]


def customers(n: int, bad: int) -> list[dict]:
    return [
        {"customer_id": f"C{i:03}", "email": "not-an-email" if i < bad else f"c{i}@example.com"}
        for i in range(n)
    ]


def test_a_file_at_9_percent_rejects_loads_its_valid_rows(
    defs, instance, landing, pipeline_env, staging
):
    result = drop_and_run(
        defs, instance, landing, pipeline_env, "customers_9pct.csv", customers(100, 9)
    )
    assert result.success
    assert query(pipeline_env, "SELECT count(*) FROM commerce.customers") == [(91,)]
    evaluation = check(result, "customers", "reject_rate")
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    staged = materialization(result, "staged_batch")
    assert staged["rejected"] == 9
    rejects = pl.read_csv(staged["rejects_file"], infer_schema=False)
    assert rejects.height == 9 and rejects["_errors"].unique().to_list() == ["email:format"]
    assert query(pipeline_env, "SELECT count(*) FROM ingest.rejects") == [(9,)]


def test_a_file_at_11_percent_rejects_fails_whole_and_commits_nothing(
    defs, instance, landing, pipeline_env
):
    result = drop_and_run(
        defs, instance, landing, pipeline_env, "customers_11pct.csv", customers(100, 11)
    )
    assert not result.success
    ((status, error),) = query(pipeline_env, "SELECT status, error FROM ingest.files")
    assert status == "failed" and "TooManyRejects" in error and "11.0 %" in error
    assert query(pipeline_env, "SELECT count(*) FROM commerce.customers") == [(0,)]


def test_a_batch_over_the_threshold_writes_its_rejects_report_then_fails(
    defs, instance, landing, pipeline_env, staging
):
    result = drop_and_run(
        defs, instance, landing, pipeline_env, "customers_11pct.csv", customers(100, 11)
    )
    assert not result.success
    assert query(pipeline_env, "SELECT count(*) FROM ingest.rejects") == [(11,)]
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    report = failure.step_failure_data.user_failure_data.metadata
    assert report["error"].value == "TooManyRejects"
    assert "email:format" in report["rejects_by_rule"].value
    assert len(report["rejects_preview"].value.records) == 11
    rejects = pl.read_csv(report["rejects_file"].value, infer_schema=False)
    assert rejects.height == 11 and set(rejects["_errors"]) == {"email:format"}
    evaluation = check(result, "customers", "reject_rate")
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["rejected"].value == 11
    assert query(pipeline_env, "SELECT rows_read, rows_rejected FROM ingest.files") == [(100, 11)]


@pytest.mark.parametrize(
    ("log_every", "logged"),
    [
        (None, []),
        (0.0, ["customers: 3/10", "customers: 6/10", "customers: 9/10", "customers: 10/10"]),
    ],
)
def test_progress_is_mirrored_per_chunk_and_logged_every_few_seconds(
    defs, instance, landing, pipeline_env, monkeypatch, log_every, logged
):
    """Each log line is an event the instance stores: a load shorter than LOG_EVERY logs
    no progress (its rate is in the metadata), a longer one logs every LOG_EVERY seconds
    and its last chunk, and the ledger follows every chunk either way."""
    if log_every is not None:
        monkeypatch.setattr(Progress, "LOG_EVERY", log_every)
    result = drop_and_run(
        defs,
        instance,
        landing,
        pipeline_env,
        "customers_p.csv",
        customers(10, 0),
        settings(chunk_rows=3),
    )
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    progress = [m for m in messages if m.startswith("customers: ") and "rows/s, ETA" in m]
    assert [m.split(" rows,")[0] for m in progress] == logged
    assert query(pipeline_env, "SELECT rows_done, rows_total, status FROM ingest.files") == [
        (10, 10, "succeeded")
    ]


def test_order_totals_that_do_not_match_their_lines_warn_with_the_order_ids(
    defs, instance, landing, pipeline_env
):
    drop_and_run(defs, instance, landing, pipeline_env, "customers_1.csv", [{"customer_id": "C1"}])
    drop_and_run(
        defs,
        instance,
        landing,
        pipeline_env,
        "products_1.csv",
        [{"product_id": "P1", "name": "Tea"}],
    )
    drop_and_run(
        defs, instance, landing, pipeline_env, "orders_1.csv", [ORDER, dict(ORDER, order_id="O2")]
    )
    lines = [
        {
            "line_item_id": "L1",
            "order_id": "O1",
            "product_id": "P1",
            "quantity": "1",
            "unit_price": "5",
            "line_total": "5",
        },
        {
            "line_item_id": "L2",
            "order_id": "O2",
            "product_id": "P1",
            "quantity": "1",
            "unit_price": "4",
            "line_total": "4",
        },
    ]
    result = drop_and_run(defs, instance, landing, pipeline_env, "line_items_1.csv", lines)
    evaluation = check(result, "line_items", "order_totals_match_lines")
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["mismatching_orders"].value == 1
    assert "O2" in evaluation.metadata["sample"].value
    assert check(result, "line_items", "referential_integrity").passed
    again = drop_and_run(defs, instance, landing, pipeline_env, "line_items_2.csv", lines)
    unchanged = check(again, "line_items", "order_totals_match_lines")
    assert unchanged.passed and unchanged.metadata["orders_checked"].value == 0
    assert unchanged.metadata["skipped"].value == "no order or line item of this batch changed"


RUN_DEADLINE_SECONDS = 300


def run_in_own_process(partition_key: str) -> None:
    """A whole run in a separate process with its own Dagster instance, as two run workers
    of a deployment would be; the database is the only thing the runs share. The exit
    status says whether the run succeeded: the process ends on its own, because after a
    Dagster run SIGTERM raises KeyboardInterrupt wherever the process happens to be, and a
    worker pool ended by SIGTERM hung CI for 90 minutes."""
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("batches", [partition_key])
        result = (
            load_definitions()
            .resolve_job_def("import_batch")
            .execute_in_process(
                partition_key=partition_key, instance=instance, run_config=settings(chunk_rows=250)
            )
        )
    sys.exit(0 if result.success else 1)


def test_two_overlapping_runs_on_shared_keys_both_succeed(landing, pipeline_env):
    for version in ("2024-01-01", "2024-02-01"):
        rows = [
            {"customer_id": f"C{i:04}", "first_name": version, "updated_at": version}
            for i in range(3000)
        ]
        write_csv(landing / f"customers_{version}.csv", rows)
    with dg.instance_for_test() as instance:
        keys = tick(instance, landing, pipeline_env).keys
    spawn = multiprocessing.get_context("spawn")
    runs = [spawn.Process(target=run_in_own_process, args=(key,)) for key in keys]
    for each in runs:
        each.start()
    deadline = time.monotonic() + RUN_DEADLINE_SECONDS
    for each in runs:
        each.join(max(deadline - time.monotonic(), 0))
    hung = [each for each in runs if each.is_alive()]
    for each in hung:
        each.kill()
        each.join()
    assert not hung, f"{len(hung)} run(s) still going after {RUN_DEADLINE_SECONDS} s"
    assert [each.exitcode for each in runs] == [0, 0]
    assert query(
        pipeline_env, "SELECT first_name, count(*) FROM commerce.customers GROUP BY 1"
    ) == [("2024-02-01", 3000)]


def test_rows_the_database_refuses_are_rejects_in_the_table_and_a_csv(
    defs, instance, landing, pipeline_env
):
    products = [
        {"product_id": f"P{i}", "name": "n", "sku": "=DUP" if i in (2, 5) else f"S{i}"}
        for i in range(8)
    ]
    result = drop_and_run(defs, instance, landing, pipeline_env, "products_1.csv", products)
    assert result.success
    loaded = materialization(result, "products")
    assert (loaded["inserted"], loaded["rejected"]) == (7, 1)
    assert query(pipeline_env, "SELECT source_row, errors FROM ingest.rejects") == [
        (6, ["db:products_sku_unique"])
    ]
    ((raw,),) = query(pipeline_env, "SELECT raw FROM ingest.rejects")
    assert (raw["product_id"], raw["sku"]) == ("P5", "=DUP")
    assert not {"_batch", "_fingerprint"} & raw.keys()
    refused = pl.read_csv(loaded["db_rejects_file"], infer_schema=False)
    assert refused.select("product_id", "sku", "_errors").row(0) == (
        "P5",
        "'=DUP",
        "db:products_sku_unique",
    )
