"""Profile features through sensor -> run -> Postgres: lookups counted in the batch's
metadata, partial rows keeping stored values, parents first for profile-mapped files."""

import pytest

from import_pipeline_tests.samples import marketplace
from import_pipeline_tests.samples.expect import succeeded
from import_pipeline_tests.samples.support import Loader
from import_pipeline_tests.support import materialization, query, run, tick


@pytest.fixture
def profiles(tmp_path, monkeypatch):
    folder = tmp_path / "profiles"
    folder.mkdir()
    monkeypatch.setenv("IMPORT_PROFILES_DIR", str(folder))
    return folder


@pytest.mark.postgres
def test_lookup_misses_are_in_the_batch_metadata(loader: Loader, profiles, tmp_path):
    (profiles / "categories.csv").write_text(marketplace.TRANSLATION)
    (profiles / "olist_products.yaml").write_text(
        marketplace.PROFILES["olist_products"].replace(
            '{batch_file: "product_category_name_translation*.csv"}', "{file: categories.csv}"
        )
    )
    source = tmp_path / "products.csv"
    source.write_text(marketplace.PRODUCTS)
    (result,) = loader.load((source, "olist_products_dataset.csv")).values()
    succeeded({"products": result})
    staged = materialization(result, "staged_batch")
    assert staged["lookup/category_en/misses"] == 1
    assert "`pc_gamer`" in staged["lookup_misses"]
    assert query(loader.database_url, "SELECT category FROM commerce.products ORDER BY 1") == [
        ("housewares",),
        ("pc_gamer",),
        ("perfumery",),
    ]


# A Shopify-like orders export: customers come from orders, and an order without a
# billing address (a pickup, a guest checkout completed later) has no country.
ORDERS_PROFILE = """\
files: ["shop_orders*.csv"]
partial_rows: {PARTIAL}
entities:
  customers:
    one_row_per: [Name]
    fields:
      customer_id: {lower: Email}
      email: Email
      phone: Billing Phone
      country: Billing Country
      updated_at: Created at
    attributes: []
  orders:
    fields:
      order_id: Name
      customer_id: {lower: Email}
      status: Financial Status
      total: Total
      ordered_at: Created at
    attributes: []
"""
HEADER = "Name,Email,Financial Status,Total,Created at,Billing Phone,Billing Country\n"
FIRST = HEADER + "#1001,Ada@Example.com,paid,20.00,2024-05-01 10:00:00 +0000,+44 20 1,GB\n"
SECOND = (
    HEADER
    + "#1002,ada@example.com,paid,5.00,2024-05-03 10:00:00 +0000,,\n"
    + "#1003,bob@example.com,paid,7.00,2024-05-03 11:00:00 +0000,+33 1 2,FR\n"
    + "#1004,bob@example.com,pending,9.00,2024-05-04 09:00:00 +0000,,\n"
)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("partial", "ada", "bob", "shown"),
    [
        (
            "{customers: [country, phone]}",
            ("+44 20 1", "GB"),
            ("+33 1 2", "FR"),
            "customers: country, phone; orders: whole rows",
        ),
        ("{}", (None, None), (None, None), "customers: whole rows; orders: whole rows"),
    ],
)
def test_a_partial_row_customer_keeps_the_country_its_newest_order_lacks(
    loader: Loader, profiles, tmp_path, partial, ada, bob, shown
):
    (profiles / "shop_orders.yaml").write_text(ORDERS_PROFILE.replace("{PARTIAL}", partial))
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text(FIRST)
    second.write_text(SECOND)
    succeeded(loader.load((first, "shop_orders_1.csv")))
    (result,) = loader.load((second, "shop_orders_2.csv")).values()
    succeeded({"second": result})
    assert materialization(result, "staged_batch")["partial_rows"] == shown
    loaded = materialization(result, "customers")
    assert (loaded["inserted"], loaded["updated"]) == (1, 0 if partial != "{}" else 1)
    customers = query(
        loader.database_url,
        "SELECT customer_id, phone, country FROM commerce.customers ORDER BY 1",
    )
    # Ada's newer order (another batch) and Bob's newer order (the same batch) lack both.
    assert customers == [("ada@example.com", *ada), ("bob@example.com", *bob)]
    assert query(loader.database_url, "SELECT count(*) FROM commerce.orders") == [(4,)]


@pytest.mark.postgres
def test_profile_mapped_files_of_one_tick_load_parents_first_with_nothing_held(
    defs, instance, landing, pipeline_env, profiles
):
    # The orders' file feeds customers and orders, the items' file products and line
    # items; by name the items' file ("olist_order_items...") sorts first.
    marketplace.write_profiles(
        profiles,
        "olist_orders",
        "olist_items",
        olist_orders=marketplace.PROFILES["olist_orders"].replace(
            "entities:\n", "entities:\n  customers:\n    fields: {customer_id: customer_id}\n"
        ),
        olist_items=marketplace.PROFILES["olist_items"].replace(
            "entities:\n",
            "entities:\n  products:\n    fields: {product_id: product_id, name: product_id}\n",
        ),
    )
    for name in ("olist_order_items_dataset.csv", "olist_orders_dataset.csv"):
        (landing / name).write_text(marketplace.FILES[name])
    requests = tick(instance, landing, pipeline_env).run_requests
    assert [r.tags["import/profile"] for r in requests] == ["olist_orders", "olist_items"]
    assert [r.tags["dagster/priority"] for r in requests] == ["2", "1"]
    results = [run(defs, instance, request) for request in requests]
    succeeded(dict(enumerate(results)))
    lines = materialization(results[1], "line_items")
    assert (lines["inserted"], lines["held"], lines["resolved"]) == (5, 0, 0)
    assert query(pipeline_env, "SELECT count(*) FROM ingest.held_rows") == [(0,)]
