"""The landing sensor over S3, against a real S3-protocol server (moto over HTTP)."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from import_pipeline.defs.resources import LandingZone
from import_pipeline.defs.sensors import TAG_TENANT, TAG_URI
from import_pipeline_tests.support import (
    LAYOUTS,
    LISTED,
    CountingS3,
    csv_bytes,
    put,
    query,
    s3_tick,
)

pytestmark = [pytest.mark.s3, pytest.mark.postgres]

CUSTOMERS = [{"customer_id": "C1", "email": "ada@example.com"}]


def zone(bucket: str, aws: CountingS3, **fields) -> LandingZone:
    return LandingZone(url=f"s3://{bucket}/landing", s3=aws, **fields)


def test_a_large_prefix_is_discovered_over_ticks_that_each_list_at_most_the_bound(
    instance, aws, client, s3_bucket, database_url
):
    keys = [f"landing/customers_{i:05d}.csv" for i in range(2_500)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: put(client, s3_bucket, key, b"customer_id\nC1\n"), keys))
    landing = zone(s3_bucket, aws, max_keys_per_tick=1_000, max_files_per_run=1)
    cursor, found, listed_per_tick = None, [], []
    for _ in range(3):
        LISTED.clear()
        result = s3_tick(instance, landing, database_url, cursor)
        listed_per_tick.append(sum(LISTED))
        found += [r.tags[TAG_URI] for r in result.run_requests]
        cursor = result.cursor
    assert listed_per_tick == [1_000, 1_000, 500]
    assert sorted(found) == [f"s3://{s3_bucket}/{key}" for key in keys]
    assert json.loads(cursor) == {"after": ""}, "the end of the listing wraps to the start"
    assert query(database_url, "SELECT count(*) FROM ingest.files") == [(2_500,)]


def test_a_changed_object_becomes_a_new_partition(instance, aws, client, s3_bucket, database_url):
    landing = zone(s3_bucket, aws)
    put(client, s3_bucket, "landing/customers_a.csv", csv_bytes(CUSTOMERS))
    first = s3_tick(instance, landing, database_url)
    put(client, s3_bucket, "landing/customers_a.csv", csv_bytes(CUSTOMERS * 2))
    second = s3_tick(instance, landing, database_url, first.cursor)
    assert len(first.keys) == len(second.keys) == 1 and first.keys != second.keys


def test_a_folder_batch_waits_for_its_marker(instance, aws, client, s3_bucket, database_url):
    landing = zone(s3_bucket, aws)
    put(client, s3_bucket, "landing/drop-7/customers.csv", csv_bytes(CUSTOMERS))
    put(client, s3_bucket, "landing/drop-7/orders.csv", b"order_id\nO1\n")
    waiting = s3_tick(instance, landing, database_url)
    assert waiting.keys == []
    put(client, s3_bucket, "landing/drop-7/_SUCCESS", b"")
    (request,) = s3_tick(instance, landing, database_url, waiting.cursor).run_requests
    assert request.tags[TAG_URI] == f"s3://{s3_bucket}/landing/drop-7/"
    assert request.partition_key.startswith("drop-7-")


def test_a_window_never_cuts_a_folder_batch_in_two(instance, aws, client, s3_bucket, database_url):
    for key in ("customers_0.csv", "customers_1.csv", "drop/a.csv", "drop/b.csv", "drop/_SUCCESS"):
        put(client, s3_bucket, f"landing/{key}", b"customer_id\nC1\n")
    landing = zone(s3_bucket, aws, max_keys_per_tick=4)
    first = s3_tick(instance, landing, database_url)
    second = s3_tick(instance, landing, database_url, first.cursor)
    assert [key.rsplit("-", 1)[0] for key in first.keys] == ["customers_0.csv", "customers_1.csv"]
    assert json.loads(first.cursor) == {"after": "customers_1.csv"}
    assert [r.tags[TAG_URI].split("/landing/")[1] for r in second.run_requests] == ["drop/"]


def test_the_first_folder_below_the_root_names_the_tenant(
    instance, aws, client, s3_bucket, database_url
):
    put(client, s3_bucket, "landing/acme/customers_1.csv", csv_bytes(CUSTOMERS))
    put(client, s3_bucket, "landing/globex/customers_1.csv", csv_bytes(CUSTOMERS))
    tick = s3_tick(instance, zone(s3_bucket, aws, tenant_from_path=True), database_url)
    assert sorted(r.tags[TAG_TENANT] for r in tick.run_requests) == ["acme", "globex"]
    assert query(database_url, "SELECT tenant FROM ingest.files ORDER BY 1") == [
        ("acme",),
        ("globex",),
    ]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_markers_and_manifests_in_a_bucket_never_become_batches(
    layout, instance, aws, client, s3_bucket, database_url
):
    tenants, data, markers, expected = LAYOUTS[layout]
    for key in data + markers:
        put(client, s3_bucket, f"landing/{key}", b"customer_id\nC1\n" if key in data else b"{}")
    tick = s3_tick(instance, zone(s3_bucket, aws, tenant_from_path=tenants), database_url)
    root = f"s3://{s3_bucket}/landing/"
    assert sorted(r.tags[TAG_URI].removeprefix(root) for r in tick.run_requests) == expected
