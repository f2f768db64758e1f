"""product_images after a products load, against a real local HTTP server: good images are
stored as three JPEGs and recorded, the same bytes under two URLs are stored once, and
every kind of bad URL is a recorded failure that neither fails the products load nor the
images run, and is tried again once its backoff has passed."""

import io
from datetime import timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from PIL import Image

from import_pipeline.definitions import defs as load_definitions
from import_pipeline.defs.images import product_image_retries, product_images_sensor
from import_pipeline.defs.resources import PostgresResource
from import_pipeline_tests.image_server import image_server
from import_pipeline_tests.support import materialization, query, run, tick, write_csv

BAD = {
    "P-3": "/missing.jpg",
    "P-4": "/slow.jpg",
    "P-5": "/endless.jpg",
    "P-6": "/page.html",
    "P-7": "/fake.jpg",
    "P-8": "/to-private.jpg",
}


@pytest.fixture
def server():
    with image_server() as url:
        yield url


@pytest.fixture
def image_defs(pipeline_env, monkeypatch) -> dg.Definitions:
    """The code location with the tests' own server allow-listed, as a deployment would."""
    monkeypatch.setenv("IMPORT_IMAGES_ALLOWED_NETWORKS", "127.0.0.1/32")
    return load_definitions()


def drop_products(landing: Path, server: str) -> None:
    rows = [
        {"product_id": "P-1", "name": "Red", "image_url": "/red.png", "image_url_2": "/blue.jpg"},
        {"product_id": "P-2", "name": "Red too", "image_url": "/red-again.png", "image_url_2": ""},
        *({"product_id": k, "name": k, "image_url": v, "image_url_2": ""} for k, v in BAD.items()),
        {"product_id": "P-9", "name": "No image", "image_url": "", "image_url_2": ""},
    ]
    for row in rows:
        for column in ("image_url", "image_url_2"):
            row[column] = f"{server}{row[column]}" if row[column] else ""
    write_csv(landing / "products.csv", rows)


def run_images(defs, instance, key: str, **config) -> dg.ExecuteInProcessResult:
    """The images job; run config replaces the resource's whole configuration, so the
    allow-list is given again beside the tests' short timeout and small cap."""
    allowed = defs.resources["images"].allowed_networks
    settings = {"timeout_seconds": 1.0, "max_bytes": 1 << 20, "allowed_networks": allowed}
    settings |= config
    return defs.resolve_job_def("fetch_product_images").execute_in_process(
        partition_key=key,
        instance=instance,
        run_config={"resources": {"images": {"config": settings}}},
        raise_on_error=False,
    )


def test_a_batchs_images_are_stored_once_and_every_bad_url_is_a_recorded_failure(
    image_defs, instance, landing, staging, pipeline_env, server
):
    drop_products(landing, server)
    request = tick(instance, landing, pipeline_env).run_requests[0]
    imported = run(image_defs, instance, request)
    images = run_images(image_defs, instance, request.partition_key)

    assert image_defs.resources["images"].allowed_networks == "127.0.0.1/32"
    assert imported.success and images.success
    assert query(pipeline_env, "SELECT count(*) FROM commerce.products") == [(9,)]
    report = materialization(images, "product_images")
    assert {k: report[k] for k in ("named", "downloaded", "reused", "failed")} == {
        "named": 9,
        "downloaded": 2,
        "reused": 1,
        "failed": 6,
    }
    rows = query(
        pipeline_env,
        "SELECT product_id, position, status, sha256, phash, original_path, medium_path,"
        " thumbnail_path, error FROM commerce.product_images ORDER BY product_id, position",
    )
    by_product = {(r[0], r[1]): r for r in rows}
    red, blue, red_again = by_product["P-1", 1], by_product["P-1", 2], by_product["P-2", 1]
    assert (red[2], blue[2], red_again[2]) == ("downloaded", "downloaded", "reused")
    assert red_again[3:8] == red[3:8], "the same bytes under another URL reuse the stored files"
    assert red[3] != blue[3] and len(red[4]) == 16
    assert Path(red[5]).parent == staging / "images" / "default" / "P-1"
    sizes = [Image.open(io.BytesIO(Path(p).read_bytes())).size for p in red[5:8]]
    assert sizes == [(1200, 900), (800, 600), (200, 150)]
    errors = {r[0]: r[8] for r in rows if r[2] == "failed"}
    assert set(errors) == set(BAD)
    assert "HTTP 404" in errors["P-3"] and "no answer within 1 s" in errors["P-4"]
    assert "over 1,048,576 bytes" in errors["P-5"] and "text/html" in errors["P-6"]
    assert "NotAnImage" in errors["P-7"] and "10.0.0.1, a private" in errors["P-8"]


def test_images_follow_a_products_load_and_failures_are_retried_after_their_backoff(
    image_defs, instance, landing, pipeline_env, server
):
    drop_products(landing, server)
    request = tick(instance, landing, pipeline_env).run_requests[0]
    run(image_defs, instance, request)
    ref = instance.get_ref()
    with dg.build_sensor_context(instance_ref=ref, definitions=image_defs) as context:
        requested = product_images_sensor.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requested] == [request.partition_key]

    first = materialization(
        run_images(image_defs, instance, request.partition_key), "product_images"
    )
    again = materialization(
        run_images(image_defs, instance, request.partition_key), "product_images"
    )
    assert (first["downloaded"], first["failed"]) == (2, 6)
    assert (again["downloaded"], again["reused"], again["failed"], again["waiting"]) == (0, 3, 0, 6)

    postgres = {
        "postgres": PostgresResource(url=pipeline_env),
        "images": image_defs.resources["images"],
    }
    due_at = query(pipeline_env, "SELECT min(next_attempt_at) FROM commerce.product_images")[0][0]
    with dg.build_schedule_context(
        instance=instance,
        resources=postgres,
        scheduled_execution_time=due_at - timedelta(minutes=1),
    ) as context:
        assert isinstance(product_image_retries(context), dg.SkipReason)
    with dg.build_schedule_context(
        instance=instance,
        resources=postgres,
        scheduled_execution_time=due_at + timedelta(minutes=1),
    ) as context:
        retries = product_image_retries(context)
    assert [r.partition_key for r in retries] == [request.partition_key]

    query(  # a quarter of an hour passes
        pipeline_env,
        "UPDATE commerce.product_images SET next_attempt_at = next_attempt_at - interval '16 min'"
        " WHERE status = 'failed' RETURNING 1",
    )
    retried = materialization(
        run_images(image_defs, instance, request.partition_key), "product_images"
    )
    assert (retried["failed"], retried["waiting"], retried["reused"]) == (6, 0, 3)
    assert query(
        pipeline_env,
        "SELECT DISTINCT attempts, round(extract(epoch FROM next_attempt_at - updated_at) / 60)"
        " FROM commerce.product_images WHERE status = 'failed'",
    ) == [(2, 30)], "the second failure waits twice as long"


def test_products_alike_by_name_and_brand_or_by_image_are_reported_never_merged(
    image_defs, instance, landing, staging, pipeline_env, server
):
    rows = [
        {"product_id": "A", "name": "Earl Grey Tea", "brand": "Acme", "image_url": "/red.png"},
        {"product_id": "B", "name": " earl grey  tea!", "brand": "ACME", "image_url": ""},
        {
            "product_id": "C",
            "name": "Earl Grey Tea",
            "brand": "Other",
            "image_url": "/red-again.png",
        },
        {"product_id": "D", "name": "Earl Grey Tea", "brand": "", "image_url": "/blue.jpg"},
    ]
    for row in rows:
        row["image_url"] = f"{server}{row['image_url']}" if row["image_url"] else ""
    write_csv(landing / "products.csv", rows)
    request = tick(instance, landing, pipeline_env).run_requests[0]
    run(image_defs, instance, request)
    result = run_images(image_defs, instance, request.partition_key)

    report = materialization(result, "possible_duplicate_products")
    assert (report["by_name_and_brand"], report["by_image"]) == (2, 2)
    listed = pl.read_csv(report["possible_duplicates_file"])
    assert listed.select("product_id", "other_product_id", "reason").rows() == [
        ("A", "B", "name+brand"),
        ("A", "C", "image"),
        ("B", "A", "name+brand"),
        ("C", "A", "image"),
    ]
    assert Path(report["possible_duplicates_file"]).parent == staging / request.partition_key
    assert query(pipeline_env, "SELECT count(*) FROM commerce.products") == [(4,)]
