"""The processed-prefix mode against moto over HTTP: succeeded batches (and only they)
move to `_processed/<date>/`, a folder batch whole, the move is safe to repeat, and the
listing jumps over what was processed."""

from contextlib import closing
from datetime import UTC, datetime

import dagster as dg
import psycopg2
import pytest

from import_pipeline.db import ledger
from import_pipeline.defs.processed import move_succeeded, processed_sensor
from import_pipeline.defs.resources import LandingZone, PostgresResource
from import_pipeline.defs.sensors import TAG_URI
from import_pipeline_tests.support import (
    LISTED,
    CountingS3,
    csv_bytes,
    put,
    query,
    s3_tick,
)

pytestmark = [pytest.mark.s3, pytest.mark.postgres]

CUSTOMERS = [{"customer_id": "C1", "email": "ada@example.com"}]
TODAY = datetime.now(UTC).strftime("%Y-%m-%d")


def zone(bucket: str, aws: CountingS3) -> LandingZone:
    return LandingZone(
        url=f"s3://{bucket}/landing", s3=aws, move_processed=True, max_files_per_run=1
    )


def keys(client, bucket: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def registered(instance, landing, database_url) -> dict[str, str]:
    """One landing tick; partition key by file or folder name."""
    tick = s3_tick(instance, landing, database_url)
    return {
        r.tags[TAG_URI].rstrip("/").rsplit("/", 1)[1]: r.partition_key for r in tick.run_requests
    }


def succeed(database_url: str, *partition_keys: str) -> None:
    with closing(psycopg2.connect(database_url)) as conn:
        for key in partition_keys:
            assert ledger.finish_if_complete(conn, key, [])


def test_only_succeeded_batches_move_and_the_live_prefix_keeps_new_and_failed_ones(
    instance, aws, client, s3_bucket, database_url
):
    for name in ("customers_ok.csv", "customers_bad.csv", "customers_new.csv"):
        put(client, s3_bucket, f"landing/{name}", csv_bytes(CUSTOMERS))
    landing = zone(s3_bucket, aws)
    batches = registered(instance, landing, database_url)
    succeed(database_url, batches["customers_ok.csv"])
    with closing(psycopg2.connect(database_url)) as conn:
        ledger.fail(conn, batches["customers_bad.csv"], "r1", "TooManyRejects", retryable=False)
    moved = move_succeeded(landing, PostgresResource(url=database_url), 100)
    assert moved == [batches["customers_ok.csv"]]
    assert keys(client, s3_bucket) == [
        f"landing/_processed/{TODAY}/customers_ok.csv",
        "landing/customers_bad.csv",
        "landing/customers_new.csv",
    ]
    assert query(
        database_url, "SELECT processed_uri FROM ingest.files WHERE processed_at IS NOT NULL"
    ) == [(f"s3://{s3_bucket}/landing/_processed/{TODAY}/customers_ok.csv",)]
    assert [r.key for r in landing.list_files()] == ["customers_bad.csv", "customers_new.csv"]


def test_a_folder_batch_moves_whole_with_its_marker(instance, aws, client, s3_bucket, database_url):
    for name, data in (("customers.csv", csv_bytes(CUSTOMERS)), ("orders.csv", b"order_id\n")):
        put(client, s3_bucket, f"landing/drop-7/{name}", data)
    put(client, s3_bucket, "landing/drop-7/_SUCCESS", b"")
    landing = zone(s3_bucket, aws)
    succeed(database_url, registered(instance, landing, database_url)["drop-7"])
    move_succeeded(landing, PostgresResource(url=database_url), 100)
    assert keys(client, s3_bucket) == [
        f"landing/_processed/{TODAY}/drop-7/{name}"
        for name in ("_SUCCESS", "customers.csv", "orders.csv")
    ]


def test_repeating_or_resuming_the_move_is_harmless(instance, aws, client, s3_bucket, database_url):
    for name in ("a.csv", "b.csv", "_SUCCESS"):
        put(client, s3_bucket, f"landing/drop-8/{name}", csv_bytes(CUSTOMERS))
    landing = zone(s3_bucket, aws)
    partition = registered(instance, landing, database_url)["drop-8"]
    succeed(database_url, partition)
    target = f"landing/_processed/{TODAY}/drop-8/"
    query(
        database_url,
        "UPDATE ingest.files SET processed_uri = %s WHERE partition_key = %s RETURNING 1",
        (f"s3://{s3_bucket}/{target}", partition),
    )
    client.copy_object(
        Bucket=s3_bucket, Key=f"{target}a.csv", CopySource=f"{s3_bucket}/landing/drop-8/a.csv"
    )
    client.delete_object(Bucket=s3_bucket, Key="landing/drop-8/a.csv")  # cut short here
    postgres = PostgresResource(url=database_url)
    assert move_succeeded(landing, postgres, 100) == [partition]
    assert move_succeeded(landing, postgres, 100) == []
    assert keys(client, s3_bucket) == [f"{target}{n}" for n in ("_SUCCESS", "a.csv", "b.csv")]


def test_a_file_replaced_after_it_loaded_stays_to_load_as_a_new_batch(
    instance, aws, client, s3_bucket, database_url
):
    put(client, s3_bucket, "landing/customers_1.csv", csv_bytes(CUSTOMERS))
    landing = zone(s3_bucket, aws)
    succeed(database_url, registered(instance, landing, database_url)["customers_1.csv"])
    put(client, s3_bucket, "landing/customers_1.csv", csv_bytes(CUSTOMERS * 2))
    assert move_succeeded(landing, PostgresResource(url=database_url), 100) == []
    assert keys(client, s3_bucket) == ["landing/customers_1.csv"]
    assert query(database_url, "SELECT processed_uri, processed_at IS NOT NULL FROM ingest.files")[
        0
    ] == (None, True)


def test_the_listing_jumps_over_processed_batches(instance, aws, client, s3_bucket, database_url):
    from concurrent.futures import ThreadPoolExecutor

    old = [f"landing/_processed/2026-01-01/customers_{i:04d}.csv" for i in range(2_100)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: put(client, s3_bucket, key, b"customer_id\nC1\n"), old))
    for name in ("customers_a.csv", "orders_z.csv"):
        put(client, s3_bucket, f"landing/{name}", csv_bytes(CUSTOMERS))
    LISTED.clear()
    tick = s3_tick(instance, zone(s3_bucket, aws), database_url)
    assert sorted(r.tags[TAG_URI].rsplit("/", 1)[1] for r in tick.run_requests) == [
        "customers_a.csv",
        "orders_z.csv",
    ]
    assert sum(LISTED) <= 1_000 + 2, "one page of processed keys at most, then the jump"


def test_the_sensor_moves_nothing_while_the_mode_is_off(aws, s3_bucket, database_url):
    landing = LandingZone(url=f"s3://{s3_bucket}/landing", s3=aws)
    resources = {"landing": landing, "postgres": PostgresResource(url=database_url)}
    with dg.build_sensor_context(resources=resources) as context:
        assert "off" in processed_sensor(context).skip_message
