"""The dbt jaffle shop seeds load with exact counts computed from the raw files; items get
a derived, stable line id (so duplicates stay separate units and a reload is idempotent),
prices in cents become units, `ItemType.*` becomes a category."""

import polars as pl
import pytest

from import_pipeline_tests.samples.expect import raw_csv, succeeded
from import_pipeline_tests.samples.support import Loader
from import_pipeline_tests.support import SAMPLES, query

JAFFLE = SAMPLES / "jaffle_shop"
SEEDS = ("customers", "products", "orders", "items")

pytestmark = pytest.mark.postgres


def test_the_jaffle_shop_seeds_load_in_foreign_key_order(loader: Loader):
    raw = {name: raw_csv(JAFFLE / f"raw_{name}.csv") for name in SEEDS}
    skus = pl.concat([raw["products"]["sku"], raw["items"]["sku"]]).n_unique()
    orphans = raw["orders"].filter(~pl.col("customer").is_in(raw["customers"]["id"].implode()))

    succeeded(loader.load(*[(JAFFLE / f"raw_{name}.csv", f"raw_{name}.csv") for name in SEEDS]))

    expected = {
        "customers": raw["customers"].height,
        "products": skus,
        "orders": raw["orders"].height - orphans.height,
        "line_items": raw["items"].height,
    }
    if orphans.height:
        expected["held_rows/orders"] = orphans.height
    assert loader.counts() == expected
    duplicates = raw["items"].height - raw["items"].unique().height
    assert duplicates > 0
    first = raw["products"].row(0, named=True)
    assert query(
        loader.database_url,
        "SELECT price::float, category FROM commerce.products WHERE product_id = %s",
        (first["sku"],),
    ) == [(int(first["price"]) / 100, first["type"].removeprefix("ItemType.").lower())]
    ids = query(
        loader.database_url,
        "SELECT line_item_id FROM commerce.line_items WHERE order_id = %s ORDER BY 1",
        (raw["items"]["order_id"][0],),
    )
    assert ids[0][0] == f"{raw['items']['order_id'][0]}-{raw['items']['sku'][0]}-1"
