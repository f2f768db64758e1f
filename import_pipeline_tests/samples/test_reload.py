"""Loading every sample a second time (same bytes, new name, later landing time) changes
nothing: every entity a batch feeds reports zero inserted and zero updated rows, and every
table holds the same rows as before (rejects are per batch, so the second batch records its own)."""

import pytest

from import_pipeline.defs.in_process import materializations
from import_pipeline_tests.samples.expect import succeeded
from import_pipeline_tests.samples.support import TABLES, Loader
from import_pipeline_tests.support import SAMPLES

SAMPLE_DROPS = {
    "shopify_orders": [
        (SAMPLES / "shopify/orders_export_1__store_AP_pseudonymized.csv", "orders_export_1.csv")
    ],
    "shopify_products": [
        (SAMPLES / "shopify/products_export_1__store_AP.csv", "products_export_1.csv")
    ],
    "online_retail": [
        (SAMPLES / "online_retail/online_retail_head_14k_CR.csv", "online_retail_head_14k_CR.csv"),
        (SAMPLES / "online_retail/online_retail_II_head98_bom.csv", "online_retail_II_head98.csv"),
    ],
    "jaffle_shop": [
        (SAMPLES / f"jaffle_shop/raw_{name}.csv", f"raw_{name}.csv")
        for name in ("customers", "products", "orders", "items")
    ],
}


@pytest.mark.postgres
@pytest.mark.parametrize("sample", sorted(SAMPLE_DROPS))
def test_loading_a_sample_again_leaves_every_table_unchanged(loader: Loader, sample: str):
    drops = SAMPLE_DROPS[sample]
    succeeded(loader.load(*drops))
    counts, rows = loader.counts(rejects=False), loader.snapshot()

    again = loader.load(*[(source, name.replace(".csv", "_again.csv")) for source, name in drops])
    succeeded(again)
    for name, result in again.items():
        for table in TABLES:
            for loaded in materializations(result, table):
                assert (loaded["inserted"], loaded["updated"]) == (0, 0), (name, table, loaded)
    assert loader.counts(rejects=False) == counts
    assert loader.snapshot() == rows
