"""A folder batch dropped into S3 loads together, staged on S3, into Postgres."""

import json
import urllib.request

import polars as pl
import pytest

from import_pipeline.definitions import defs as load_definitions
from import_pipeline.defs.in_process import run
from import_pipeline.defs.resources import LandingZone, S3Connection
from import_pipeline_tests.support import csv_bytes, materialization, put, query, s3_tick

pytestmark = [pytest.mark.s3, pytest.mark.postgres]

CUSTOMERS = [
    {"customer_id": "C1", "email": "ada@example.com"},
    {"customer_id": "C2", "email": "not-an-email"},
]
MORE_CUSTOMERS = [{"customer_id": "C3", "email": "cy@example.com"}]
PRODUCTS = [{"product_id": "P1", "sku": "S1", "name": "Tea", "price": "3.50"}]
ORDERS = [{"order_id": "O1", "customer_id": "C3", "status": "paid", "ordered_at": "2024-05-01"}]
LINES = [
    {"line_item_id": "L1", "order_id": "O1", "product_id": "P1", "quantity": "2",
     "unit_price": "3.50", "line_total": "7.00"}
]  # fmt: skip
FILES = {
    "customers_a.csv": CUSTOMERS,
    "customers_b.csv": MORE_CUSTOMERS,
    "products.csv": PRODUCTS,
    "orders.csv": ORDERS,
    "line_items.csv": LINES,
}


@pytest.fixture
def env(monkeypatch, s3_pipeline_env) -> str:
    monkeypatch.setenv("IMPORT_TENANT_FROM_PATH", "true")
    return s3_pipeline_env


@pytest.fixture
def client():
    return S3Connection().get_client()


def drop_folder(client, bucket: str, manifest: dict) -> None:
    for name, rows in FILES.items():
        put(client, bucket, f"landing/acme/drop-1/{name}", csv_bytes(rows))
    put(client, bucket, "landing/acme/drop-1/manifest.json", json.dumps(manifest).encode())


def landing(bucket: str) -> LandingZone:
    return LandingZone(url=f"s3://{bucket}/landing", tenant_from_path=True, s3=S3Connection())


def test_a_folder_loads_as_one_batch_in_fk_order_with_staging_on_s3(
    env, instance, client, s3_bucket
):
    files = [{"name": name, "rows": len(rows)} for name, rows in FILES.items()]
    drop_folder(client, s3_bucket, {"files": files})
    (request,) = s3_tick(instance, landing(s3_bucket), env).run_requests
    result = run(load_definitions(), instance, request, _lenient())
    assert result.success
    assert query(env, "SELECT tenant, customer_id FROM commerce.customers ORDER BY 2") == [
        ("acme", "C1"),
        ("acme", "C3"),
    ]
    assert query(env, "SELECT order_id FROM commerce.orders") == [("O1",)]
    assert query(env, "SELECT line_item_id FROM commerce.line_items") == [("L1",)]
    assert query(env, "SELECT source_row, source FROM ingest.rejects") == [(2, "customers_a.csv:2")]
    staged = client.list_objects_v2(Bucket=s3_bucket, Prefix=f"staging/{request.partition_key}/")
    prefix = f"staging/{request.partition_key}/"
    names = sorted(item["Key"].removeprefix(prefix) for item in staged["Contents"])
    assert names == [
        "changes/customers/000000.parquet",
        "changes/line_items/000000.parquet",
        "changes/orders/000000.parquet",
        "changes/products/000000.parquet",
        "customers/000000.parquet",
        "line_items/000000.parquet",
        "orders/000000.parquet",
        "products/000000.parquet",
        "rejects.csv",
    ]
    rejects = client.get_object(
        Bucket=s3_bucket, Key=f"staging/{request.partition_key}/rejects.csv"
    )["Body"].read()
    assert pl.read_csv(rejects)["_source"].to_list() == ["customers_a.csv:2"]


def test_the_rejects_of_a_batch_staged_on_s3_download_from_a_presigned_link(
    env, instance, client, s3_bucket
):
    put(client, s3_bucket, "landing/acme/customers_1.csv", csv_bytes(CUSTOMERS * 3))
    (request,) = s3_tick(instance, landing(s3_bucket), env).run_requests
    config = {
        "resources": {"settings": {"config": {"max_reject_rate": 0.5, "rejects_link_hours": 1}}}
    }
    result = run(load_definitions(), instance, request, config)
    link = materialization(result, "staged_batch")["rejects_file"]
    assert link.startswith("http") and "Expires=" in link
    with urllib.request.urlopen(link) as response:
        downloaded = response.read()
    stored = client.get_object(Bucket=s3_bucket, Key=f"staging/{request.partition_key}/rejects.csv")
    assert downloaded == stored["Body"].read()
    assert pl.read_csv(downloaded)["email"].to_list() == ["not-an-email"] * 3


def test_a_manifest_that_disagrees_fails_the_batch_naming_the_file(
    env, instance, client, s3_bucket
):
    files = [{"name": name, "rows": 1} for name in FILES]
    drop_folder(client, s3_bucket, {"files": files})
    (request,) = s3_tick(instance, landing(s3_bucket), env).run_requests
    result = run(load_definitions(), instance, request)
    assert not result.success
    failure = result.failure_data_for_node("staged_batch")
    assert failure is not None
    assert "ManifestMismatch: customers_a.csv" in failure.error.message
    assert "says 1 rows but the file has 2" in failure.error.message
    assert query(env, "SELECT count(*) FROM commerce.customers") == [(0,)]


def test_a_member_changed_after_landing_fails_as_file_changed(env, instance, client, s3_bucket):
    drop_folder(client, s3_bucket, {})
    (request,) = s3_tick(instance, landing(s3_bucket), env).run_requests
    put(client, s3_bucket, "landing/acme/drop-1/orders.csv", csv_bytes(ORDERS * 2))
    result = run(load_definitions(), instance, request)
    failure = result.failure_data_for_node("staged_batch")
    assert failure is not None and "FileChanged" in failure.error.message


def _lenient() -> dict:
    return {"resources": {"settings": {"config": {"max_reject_rate": 0.5}}}}
