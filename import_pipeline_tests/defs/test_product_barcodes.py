"""Barcodes are unique per tenant like SKUs: the second product claiming one is a reject
that names the product holding it."""

import polars as pl

from import_pipeline_tests.support import materialization, query, run, tick, write_csv


def test_a_barcode_claimed_by_a_second_product_is_a_reject_and_the_first_keeps_it(
    defs, instance, landing, pipeline_env
):
    rows = [
        {"product_id": "P1", "name": "Tea", "barcode": "4006381333931", "brand": "Acme"},
        {"product_id": "P2", "name": "Cup", "barcode": "96385074", "brand": "Acme"},
        {"product_id": "P3", "name": "Copy", "barcode": "4006381333931", "brand": "Other"},
    ]
    write_csv(landing / "products_1.csv", rows)
    result = run(defs, instance, tick(instance, landing, pipeline_env).run_requests[0])

    assert result.success
    loaded = materialization(result, "products")
    assert (loaded["inserted"], loaded["rejected"]) == (2, 1)
    assert query(
        pipeline_env, "SELECT product_id, barcode, brand FROM commerce.products ORDER BY 1"
    ) == [("P1", "4006381333931", "Acme"), ("P2", "96385074", "Acme")]
    assert query(pipeline_env, "SELECT source_row, errors FROM ingest.rejects") == [
        (3, ["db:products_barcode_unique"])
    ]
    held_by = "barcode 4006381333931 is held by products P1"
    assert query(pipeline_env, "SELECT raw ->> '_problem' FROM ingest.rejects") == [(held_by,)]
    refused = pl.read_csv(loaded["db_rejects_file"], infer_schema=False)
    assert refused.select("product_id", "_problem", "_errors").rows() == [
        ("P3", held_by, "db:products_barcode_unique")
    ]
