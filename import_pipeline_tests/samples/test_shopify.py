"""Shopify exports load through sensor -> run with exact counts computed from the raw
files: the orders export fans out into four tables, the products export folds variants and
image-only rows into products and reports duplicate SKUs instead of merging them."""

import polars as pl
import pytest

from import_pipeline_tests.samples.expect import raw_csv, succeeded
from import_pipeline_tests.samples.support import Loader
from import_pipeline_tests.support import SAMPLES, materialization, query

ORDERS_EXPORT = SAMPLES / "shopify/orders_export_1__store_AP_pseudonymized.csv"
PRODUCTS_EXPORT = SAMPLES / "shopify/products_export_1__store_AP.csv"

pytestmark = pytest.mark.postgres


def test_the_orders_export_fans_out_into_customers_products_orders_and_lines(loader: Loader):
    raw = raw_csv(ORDERS_EXPORT)
    first_rows = raw.unique("Name", keep="first", maintain_order=True)
    status = (
        pl.when(pl.col("Cancelled at").is_not_null())
        .then(pl.lit("cancelled"))
        .otherwise(pl.col("Financial Status"))
    )
    statuses = dict(first_rows.group_by(status.alias("s")).len().iter_rows())

    succeeded(loader.load((ORDERS_EXPORT, "orders_export_1.csv")))

    assert loader.counts() == {
        "customers": raw["Email"].str.to_lowercase().n_unique(),
        "products": raw.select(pl.coalesce("Lineitem sku", "Lineitem name")).n_unique(),
        "orders": raw["Name"].n_unique(),
        "line_items": raw.height,
    }
    assert (
        dict(query(loader.database_url, "SELECT status, count(*) FROM commerce.orders GROUP BY 1"))
        == statuses
    )
    assert {"refunded", "cancelled"} <= set(statuses)
    tips = query(
        loader.database_url, "SELECT sku, name FROM commerce.products WHERE product_id = 'Tip'"
    )
    assert tips == [(None, "Tip")]


def test_emails_that_differ_only_by_case_are_one_customer(loader: Loader, landing):
    raw = pl.read_csv(ORDERS_EXPORT, infer_schema=False)
    names = raw["Name"].unique(maintain_order=True).head(2).to_list()
    two_orders = raw.filter(pl.col("Name").is_in(names))
    email = two_orders["Email"][0]
    shouted = two_orders.with_columns(
        pl.when(pl.col("Name") == names[1])
        .then(pl.lit(email.upper()))
        .otherwise(pl.col("Email"))
        .alias("Email")
    )
    shouted.write_csv(landing.parent / "orders_export_case.csv")

    succeeded(loader.load((landing.parent / "orders_export_case.csv", "orders_export_case.csv")))

    assert query(loader.database_url, "SELECT customer_id, email FROM commerce.customers") == [
        (email.lower(), email.lower())
    ]
    assert query(
        loader.database_url, "SELECT count(DISTINCT customer_id) FROM commerce.orders"
    ) == [(1,)]
    assert query(loader.database_url, "SELECT count(*) FROM commerce.orders") == [(2,)]


def test_guest_orders_load_without_a_customer_and_without_a_reject(loader: Loader, landing):
    raw = pl.read_csv(ORDERS_EXPORT, infer_schema=False)
    guests = raw["Name"].unique(maintain_order=True).gather_every(10).to_list()
    export = raw.with_columns(
        pl.when(pl.col("Name").is_in(guests)).then(None).otherwise(pl.col("Email")).alias("Email")
    )
    export.write_csv(landing.parent / "orders_export_guests.csv")

    (result,) = loader.load(
        (landing.parent / "orders_export_guests.csv", "orders_export_guests.csv")
    ).values()
    succeeded({"guests": result})

    staged = materialization(result, "staged_batch")
    assert (staged["rejected"], staged["customers/rejected"]) == (0, 0)
    assert query(loader.database_url, "SELECT count(*) FROM ingest.rejects") == [(0,)]
    assert query(
        loader.database_url, "SELECT count(*) FROM commerce.orders WHERE customer_id IS NULL"
    ) == [(len(guests),)]
    assert loader.counts()["orders"] == raw["Name"].n_unique()
    assert (
        loader.counts()["customers"] == export["Email"].drop_nulls().str.to_lowercase().n_unique()
    )


def test_the_products_export_folds_variants_scores_them_and_reports_duplicate_skus(loader: Loader):
    raw = raw_csv(PRODUCTS_EXPORT)
    variants = raw.filter(pl.col("Variant Price").is_not_null())
    skus = variants["Variant SKU"].drop_nulls()
    duplicate_skus = skus.len() - skus.n_unique()

    (result,) = loader.load((PRODUCTS_EXPORT, "products_export_1.csv")).values()
    succeeded({"products": result})

    assert loader.counts() == {
        "customers": 0,
        "products": variants.height - duplicate_skus,
        "orders": 0,
        "line_items": 0,
        "rejects/products": duplicate_skus,
    }
    assert query(loader.database_url, "SELECT DISTINCT errors FROM ingest.rejects") == [
        (["db:products_sku_unique"],)
    ]
    loaded = materialization(result, "products")
    assert loaded["rejected"] == duplicate_skus
    ((low, high, nulls),) = query(
        loader.database_url,
        "SELECT min(quality_score), max(quality_score), count(*) - count(quality_score)"
        " FROM commerce.products",
    )
    assert 0 <= low <= high <= 100 and nulls == 0
    assert loaded["quality_min"] <= low and 0 < loaded["quality_mean"] <= 100
    assert isinstance(loaded["quality_below_50"], int)
    statuses = query(
        loader.database_url,
        "SELECT DISTINCT attributes ->> 'Status' FROM commerce.products ORDER BY 1",
    )
    assert statuses == [("active",), ("archived",), ("draft",)]
