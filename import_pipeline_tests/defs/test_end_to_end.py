"""A dropped folder of canonical files loads through sensor -> run -> assets -> Postgres."""

import os
import time
from pathlib import Path

import pytest

from import_pipeline.defs.in_process import materializations, run, tick
from import_pipeline_tests.support import (
    CUSTOMERS,
    LINE_ITEMS,
    ORDERS,
    PRODUCTS,
    materialization,
    query,
    write_csv,
    write_ndjson,
)


def drop_canonical(landing: Path) -> None:
    write_csv(landing / "customers_2024-05.csv", CUSTOMERS)
    write_ndjson(landing / "products_2024-05.jsonl", PRODUCTS)
    write_csv(landing / "orders_2024-05.csv.gz", ORDERS, compress=True)
    write_ndjson(landing / "order_items_2024-05.jsonl", LINE_ITEMS)


def test_dropped_files_are_requested_parents_first_and_load_into_postgres(
    defs, instance, landing, pipeline_env
):
    drop_canonical(landing)
    first = tick(instance, landing, pipeline_env)
    assert [k.split("_")[0] for k in first.keys] == ["customers", "products", "orders", "order"]
    results = [run(defs, instance, request) for request in first.run_requests]
    assert all(r.success for r in results)

    assert query(pipeline_env, "SELECT customer_id, email FROM commerce.customers ORDER BY 1") == [
        ("C1", "ada@example.com"),
        ("C2", "bob@example.com"),
    ]
    assert query(
        pipeline_env, "SELECT product_id, currency, price::text FROM commerce.products ORDER BY 1"
    ) == [
        ("P1", "GBP", "3.5000"),
        ("P2", "GBP", "8.0000"),
    ]
    assert query(
        pipeline_env,
        "SELECT order_id, status, to_char(ordered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')"
        " FROM commerce.orders ORDER BY 1",
    ) == [("O1", "paid", "2024-05-01 10:00"), ("O2", "shipped", "2024-05-02 09:30")]
    assert query(pipeline_env, "SELECT line_item_id FROM commerce.line_items ORDER BY 1") == [
        ("O1-1",),
        ("O1-2",),
        ("O2-1",),
    ]
    assert query(pipeline_env, "SELECT count(*) FROM ingest.held_rows") == [(0,)]
    ledger = query(
        pipeline_env,
        "SELECT status, uri, rows_total, rows_done, run_id, counts -> 'customers' ->> 'inserted'"
        " FROM ingest.files WHERE uri LIKE %s",
        ("%customers_2024-05.csv",),
    )
    assert ledger == [
        (
            "succeeded",
            (landing / "customers_2024-05.csv").resolve().as_uri(),
            2,
            2,
            results[0].run_id,
            "2",
        )
    ]


def test_metadata_carries_the_counts_as_numbers(defs, instance, landing, pipeline_env):
    write_csv(landing / "customers_a.csv", CUSTOMERS + [{"customer_id": "C3", "email": "nope"}])
    (request,) = tick(instance, landing, pipeline_env).run_requests
    result = run(
        defs, instance, request, {"resources": {"settings": {"config": {"max_reject_rate": 0.5}}}}
    )
    assert result.success
    staged = materialization(result, "staged_batch")
    assert (staged["rows_read"], staged["rows_staged"], staged["rejected"]) == (3, 2, 1)
    loaded = materialization(result, "customers")
    assert (loaded["inserted"], loaded["updated"], loaded["unchanged"]) == (2, 0, 0)
    assert isinstance(loaded["rows_per_s"], float)
    assert materializations(result, "orders") == []


def test_the_same_file_again_requests_nothing(defs, instance, landing, pipeline_env):
    write_csv(landing / "customers_a.csv", CUSTOMERS)
    first = tick(instance, landing, pipeline_env)
    assert run(defs, instance, first.run_requests[0]).success
    again = tick(instance, landing, pipeline_env, first.cursor)
    assert again.keys == []


def test_a_changed_file_is_a_new_batch_that_updates_rows(defs, instance, landing, pipeline_env):
    path = write_csv(landing / "customers_a.csv", CUSTOMERS)
    landed = time.time() - 120
    os.utime(path, (landed, landed))
    first = tick(instance, landing, pipeline_env)
    assert run(defs, instance, first.run_requests[0]).success

    changed = [dict(CUSTOMERS[0], first_name="Augusta"), CUSTOMERS[1]]
    write_csv(path, changed)
    earlier = time.time() - 60
    os.utime(path, (earlier, earlier))
    second = tick(instance, landing, pipeline_env, first.cursor)
    assert len(second.keys) == 1 and second.keys != first.keys
    result = run(defs, instance, second.run_requests[0])
    loaded = materialization(result, "customers")
    assert (loaded["inserted"], loaded["updated"], loaded["unchanged"]) == (0, 1, 1)
    assert query(pipeline_env, "SELECT first_name FROM commerce.customers ORDER BY 1") == [
        ("Augusta",),
        ("Bob",),
    ]


BAD_FILES = {
    "customers_empty.csv": (b"", "EmptyFile", "the file is empty"),
    "customers_header.csv": (b"customer_id,email\n", "EmptyFile", "no data rows"),
    "customers_cols.csv": (b"id,email\n1,a@b.co\n", "MissingColumns", "customer_id"),
    "customers_latin1.csv": (b"customer_id,first_name\nC1,Ren\xe9\n", "UndecodableFile", "UTF-8"),
    "clients.csv": (b"customer_id\nC1\n", "UnknownEntity", "customers*"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_file_fails_with_a_named_error_and_writes_nothing(
    defs, instance, landing, pipeline_env, name
):
    data, error, words = BAD_FILES[name]
    (landing / name).write_bytes(data)
    (request,) = tick(instance, landing, pipeline_env).run_requests
    result = run(defs, instance, request)
    assert not result.success
    failure = result.failure_data_for_node("staged_batch")
    assert failure is not None and error in failure.error.message and name in failure.error.message
    assert words in failure.error.message
    ((status, message),) = query(pipeline_env, "SELECT status, error FROM ingest.files")
    assert status == "failed" and error in message and name in message
    for table in ("commerce.customers", "ingest.rejects", "ingest.held_rows"):
        assert query(pipeline_env, f"SELECT count(*) FROM {table}") == [(0,)]
