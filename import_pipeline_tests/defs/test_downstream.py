"""Each entity load exposes the keys it inserted or updated, and product_search_documents
turns a batch's changed products, and only those, into search documents."""

import json
from pathlib import Path

import dagster as dg

from import_pipeline.defs.assets.search_documents import product_search_documents
from import_pipeline.defs.resources import PostgresResource, StagingArea
from import_pipeline.files import layout
from import_pipeline_tests.support import materialization, run, tick, write_csv


def product(product_id: str, price: str, updated_at: str = "2024-05-01") -> dict:
    return {
        "product_id": product_id,
        "sku": f"SKU-{product_id}",
        "name": f"Tea {product_id}",
        "price": price,
        "currency": "GBP",
        "updated_at": updated_at,
    }


def load(defs, instance, landing: Path, url: str, name: str, rows: list[dict]):
    write_csv(landing / name, rows)
    (request,) = tick(instance, landing, url).run_requests
    result = run(defs, instance, request)
    assert result.success
    return request.partition_key, result


def test_a_batch_changing_two_products_yields_two_search_documents(
    defs, instance, landing: Path, staging: Path, pipeline_env: str
):
    first = [product("P1", "1.00"), product("P2", "2.00"), product("P3", "3.00")]
    load(defs, instance, landing, pipeline_env, "products_1.csv", first)
    second = [
        product("P1", "1.00"),  # unchanged
        product("P2", "2.50", "2024-06-01"),  # updated
        product("P4", "4.00", "2024-06-01"),  # inserted
    ]
    key, result = load(defs, instance, landing, pipeline_env, "products_2.csv", second)

    loaded = materialization(result, "products")
    assert (loaded["inserted"], loaded["updated"], loaded["changed_keys"]) == (1, 1, 2)
    resources = {
        "postgres": PostgresResource(url=pipeline_env),
        "staging": StagingArea(url=str(staging)),
    }
    documents = dg.materialize(
        [product_search_documents], partition_key=key, instance=instance, resources=resources
    )

    assert materialization(documents, "product_search_documents")["documents"] == 2
    lines = (staging / layout.search_documents_file(key)).read_text().splitlines()
    found = [json.loads(line) for line in lines]
    assert [(d["id"], d["price"], d["name"]) for d in found] == [
        ("default/P2", "2.5000", "Tea P2"),
        ("default/P4", "4.0000", "Tea P4"),
    ]
    assert found[0]["updated_at"].startswith("2024-06-01")
