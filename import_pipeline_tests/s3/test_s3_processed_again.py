"""The processed-prefix mode against moto over HTTP, after the move: a moved batch's run
re-executes from where it was moved, and identical re-sends of a moved batch leave the live
prefix too (recorded, never loaded), while a changed re-send loads as a new batch."""

from datetime import UTC, datetime

import dagster as dg
import pytest

from import_pipeline.definitions import defs as load_definitions
from import_pipeline.defs.in_process import run
from import_pipeline.defs.processed import move_redrops, move_succeeded, processed_sensor
from import_pipeline.defs.resources import LandingZone, PostgresResource, S3Connection
from import_pipeline_tests.support import csv_bytes, materialization, put, query, s3_tick

pytestmark = [pytest.mark.s3, pytest.mark.postgres]

CUSTOMERS = [
    {"customer_id": "C1", "email": "ada@example.com"},
    {"customer_id": "C2", "email": "not-an-email"},
]
ORDERS = [{"order_id": "O1", "customer_id": "C1", "status": "paid", "ordered_at": "2024-05-01"}]
TODAY = datetime.now(UTC).strftime("%Y-%m-%d")
LENIENT = {"resources": {"settings": {"config": {"max_reject_rate": 0.5}}}}
STAGED = ("rows_read", "rows_staged", "rejected", "files")


@pytest.fixture
def env(monkeypatch, s3_pipeline_env) -> str:
    monkeypatch.setenv("IMPORT_MOVE_PROCESSED", "true")
    return s3_pipeline_env


def zone(bucket: str) -> LandingZone:
    return LandingZone(url=f"s3://{bucket}/landing", s3=S3Connection(), move_processed=True)


def keys(client, bucket: str, under: str = "landing/") -> list[str]:
    listed = client.list_objects_v2(Bucket=bucket, Prefix=under).get("Contents", [])
    return sorted(o["Key"] for o in listed)


def load_and_move(env: str, instance, bucket: str) -> tuple[dg.RunRequest, dict]:
    """Tick the landing sensor, run its one batch, then move it as the processed sensor
    does; the request and the staged counts of that first run."""
    (request,) = s3_tick(instance, zone(bucket), env).run_requests
    result = run(load_definitions(), instance, request, LENIENT)
    assert result.success
    assert move_succeeded(zone(bucket), PostgresResource(url=env), 100) == [request.partition_key]
    staged = materialization(result, "staged_batch")
    return request, {name: staged[name] for name in STAGED}


def test_a_moved_file_batch_re_executes_from_where_it_was_moved(env, instance, client, s3_bucket):
    put(client, s3_bucket, "landing/customers_1.csv", csv_bytes(CUSTOMERS))
    request, first = load_and_move(env, instance, s3_bucket)
    assert keys(client, s3_bucket) == [f"landing/_processed/{TODAY}/customers_1.csv"]
    again = run(load_definitions(), instance, request, LENIENT)
    assert again.success
    staged = materialization(again, "staged_batch")
    assert (
        {name: staged[name] for name in STAGED}
        == first
        == {
            "rows_read": 2,
            "rows_staged": 1,
            "rejected": 1,
            "files": 1,
        }
    )
    assert materialization(again, "customers")["unchanged"] == 1
    assert query(env, "SELECT status, processed_uri FROM ingest.files") == [
        ("succeeded", f"s3://{s3_bucket}/landing/_processed/{TODAY}/customers_1.csv")
    ]


def test_a_moved_folder_batch_re_executes_from_where_it_was_moved(env, instance, client, s3_bucket):
    put(client, s3_bucket, "landing/drop-1/customers.csv", csv_bytes(CUSTOMERS))
    put(client, s3_bucket, "landing/drop-1/orders.csv", csv_bytes(ORDERS))
    put(client, s3_bucket, "landing/drop-1/_SUCCESS", b"")
    request, first = load_and_move(env, instance, s3_bucket)
    assert keys(client, s3_bucket) == [
        f"landing/_processed/{TODAY}/drop-1/{name}"
        for name in ("_SUCCESS", "customers.csv", "orders.csv")
    ]
    again = run(load_definitions(), instance, request, LENIENT)
    assert again.success
    staged = materialization(again, "staged_batch")
    assert {name: staged[name] for name in STAGED} == first
    assert first["files"] == 2 and first["rows_staged"] == 2
    assert query(env, "SELECT order_id, customer_id FROM commerce.orders") == [("O1", "C1")]


def test_a_moved_batch_whose_copy_was_deleted_fails_naming_both_places(
    env, instance, client, s3_bucket
):
    put(client, s3_bucket, "landing/customers_1.csv", csv_bytes(CUSTOMERS))
    request, _ = load_and_move(env, instance, s3_bucket)
    copy = f"landing/_processed/{TODAY}/customers_1.csv"
    client.delete_object(Bucket=s3_bucket, Key=copy)
    again = run(load_definitions(), instance, request, LENIENT)
    failure = again.failure_data_for_node("staged_batch")
    assert failure is not None
    message = failure.error.message
    assert "MovedBatchMissing: customers_1.csv" in message
    assert f"s3://{s3_bucket}/landing/customers_1.csv" in message
    assert f"s3://{s3_bucket}/{copy}" in message and "Put those files back" in message
    assert query(env, "SELECT status FROM ingest.files") == [("failed",)]


def test_identical_re_sends_of_a_moved_batch_leave_the_live_prefix_without_loading(
    env, instance, client, s3_bucket
):
    data = csv_bytes(CUSTOMERS)
    put(client, s3_bucket, "landing/customers_1.csv", data)
    load_and_move(env, instance, s3_bucket)
    postgres = PostgresResource(url=env)
    moved = []
    for _ in range(2):
        put(client, s3_bucket, "landing/customers_1.csv", data)
        assert s3_tick(instance, zone(s3_bucket), env).run_requests == []
        assert s3_tick(instance, zone(s3_bucket), env).run_requests == []  # noted once
        moved += move_redrops(zone(s3_bucket), postgres, 100)
        assert move_redrops(zone(s3_bucket), postgres, 100) == []
    base = f"s3://{s3_bucket}/landing/_processed/{TODAY}"
    assert moved == [f"{base}.redrop-1/customers_1.csv", f"{base}.redrop-2/customers_1.csv"]
    assert keys(client, s3_bucket) == [
        f"landing/_processed/{TODAY}.redrop-1/customers_1.csv",
        f"landing/_processed/{TODAY}.redrop-2/customers_1.csv",
        f"landing/_processed/{TODAY}/customers_1.csv",
    ]
    assert [r.key for r in zone(s3_bucket).list_files()] == []
    assert query(env, "SELECT count(*), min(status) FROM ingest.files") == [(1, "succeeded")]
    assert query(
        env, "SELECT seq, processed_uri, processed_at IS NOT NULL FROM ingest.redrops ORDER BY 1"
    ) == [(1, moved[0], True), (2, moved[1], True)]
    assert query(env, "SELECT count(*) FROM commerce.customers") == [(1,)]


def test_the_processed_sensor_moves_a_re_send_and_says_so(env, instance, client, s3_bucket):
    data = csv_bytes(CUSTOMERS)
    put(client, s3_bucket, "landing/customers_1.csv", data)
    load_and_move(env, instance, s3_bucket)
    put(client, s3_bucket, "landing/customers_1.csv", data)
    s3_tick(instance, zone(s3_bucket), env)
    resources = {"landing": zone(s3_bucket), "postgres": PostgresResource(url=env)}
    with dg.build_sensor_context(resources=resources) as context:
        result = processed_sensor(context)
    assert result.skip_message == "moved 0 succeeded batch(es) and 1 identical re-send(s)"
    assert keys(client, s3_bucket, "landing/customers") == []


def test_a_changed_re_send_of_a_moved_batch_loads_as_a_new_batch(env, instance, client, s3_bucket):
    put(client, s3_bucket, "landing/customers_1.csv", csv_bytes(CUSTOMERS))
    first, _ = load_and_move(env, instance, s3_bucket)
    more = [*CUSTOMERS, {"customer_id": "C3", "email": "cy@example.com"}]
    put(client, s3_bucket, "landing/customers_1.csv", csv_bytes(more))
    (request,) = s3_tick(instance, zone(s3_bucket), env).run_requests
    assert request.partition_key != first.partition_key
    assert run(load_definitions(), instance, request, LENIENT).success
    assert query(env, "SELECT customer_id FROM commerce.customers ORDER BY 1") == [
        ("C1",),
        ("C3",),
    ]
    assert query(env, "SELECT count(*) FROM ingest.redrops") == [(0,)]
    assert move_redrops(zone(s3_bucket), PostgresResource(url=env), 100) == []
    assert keys(client, s3_bucket, "landing/customers") == ["landing/customers_1.csv"]


def test_an_identical_re_send_of_a_moved_folder_leaves_whole(env, instance, client, s3_bucket):
    files = {"customers.csv": csv_bytes(CUSTOMERS), "_SUCCESS": b""}
    for name, data in files.items():
        put(client, s3_bucket, f"landing/drop-2/{name}", data)
    load_and_move(env, instance, s3_bucket)
    for name, data in files.items():
        put(client, s3_bucket, f"landing/drop-2/{name}", data)
    assert s3_tick(instance, zone(s3_bucket), env).run_requests == []
    assert move_redrops(zone(s3_bucket), PostgresResource(url=env), 100) == [
        f"s3://{s3_bucket}/landing/_processed/{TODAY}.redrop-1/drop-2/"
    ]
    assert keys(client, s3_bucket) == [
        f"landing/_processed/{TODAY}{day}/drop-2/{name}"
        for day in (".redrop-1", "")
        for name in ("_SUCCESS", "customers.csv")
    ]
