"""A workbook dropped into S3 loads, and its products' images are stored in S3 staging."""

import io

import dagster as dg
import pytest
import xlsxwriter
from PIL import Image

from import_pipeline.definitions import defs as load_definitions
from import_pipeline.defs.resources import LandingZone, S3Connection
from import_pipeline_tests.image_server import image_server
from import_pipeline_tests.support import materialization, put, query, run, s3_tick

pytestmark = [pytest.mark.s3, pytest.mark.postgres]


@pytest.fixture
def env(monkeypatch, s3_pipeline_env) -> str:
    monkeypatch.setenv("IMPORT_TENANT_FROM_PATH", "true")
    monkeypatch.setenv("IMPORT_IMAGES_ALLOWED_NETWORKS", "127.0.0.1/32")
    return s3_pipeline_env


def products_xlsx(server: str) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Products")
    sheet.write_row(0, 0, ["product_id", "name", "price", "image_url"])
    sheet.write_row(1, 0, ["P1", "Tea", 3.5, f"{server}/red.png"])
    sheet.write_row(2, 0, ["P2", "Cup", 9, f"{server}/blue.jpg"])
    book.close()
    return buffer.getvalue()


def test_a_workbook_from_s3_loads_and_its_images_land_in_s3_staging(env, s3_bucket):
    client = S3Connection().get_client()
    zone = LandingZone(url=f"s3://{s3_bucket}/landing", tenant_from_path=True, s3=S3Connection())
    defs = load_definitions()
    with image_server() as server, dg.instance_for_test() as instance:
        put(client, s3_bucket, "landing/acme/products.xlsx", products_xlsx(server))
        (request,) = s3_tick(instance, zone, env).run_requests
        imported = run(defs, instance, request)
        images = defs.resolve_job_def("fetch_product_images").execute_in_process(
            partition_key=request.partition_key, instance=instance
        )

    assert imported.success and images.success
    assert query(env, "SELECT tenant, product_id, price FROM commerce.products ORDER BY 2") == [
        ("acme", "P1", 3.5),
        ("acme", "P2", 9),
    ]
    assert materialization(images, "product_images")["downloaded"] == 2
    listed = client.list_objects_v2(Bucket=s3_bucket, Prefix="staging/images/acme/P1/")
    keys = sorted(item["Key"].rsplit("_", 1)[-1] for item in listed["Contents"])
    assert keys == ["medium.jpg", "original.jpg", "thumbnail.jpg"]
    (thumbnail,) = query(
        env, "SELECT thumbnail_path FROM commerce.product_images WHERE product_id = 'P1'"
    )[0]
    assert thumbnail.startswith(f"s3://{s3_bucket}/staging/images/acme/P1/")
    body = client.get_object(Bucket=s3_bucket, Key=thumbnail.split("/", 3)[3])["Body"].read()
    assert Image.open(io.BytesIO(body)).size == (200, 150)
