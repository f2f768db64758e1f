"""A marketplace's four-table dump as one folder batch: four shapes, four profiles (one
named per file by manifest.json), a translation table of the same batch as a lookup, every
entity in foreign-key order, and the batch all-or-nothing."""

import json

import pytest

from import_pipeline_tests.samples import marketplace
from import_pipeline_tests.samples.expect import succeeded
from import_pipeline_tests.support import materialization, query, run, tick

pytestmark = pytest.mark.postgres

# The customers' file arrives under a name no profile matches: the manifest names its
# profile.
RENAMED = {"olist_customers_dataset.csv": "clientes_2018-09.csv"}


def drop(landing, files: dict[str, str]) -> None:
    folder = landing / "olist-2018-09"
    folder.mkdir()
    for name, text in files.items():
        (folder / RENAMED.get(name, name)).write_text(text)
    listed = [
        {"name": RENAMED.get(name, name)}
        | ({"profile": "olist_customers"} if name in RENAMED else {})
        for name in files
    ]
    (folder / "manifest.json").write_text(json.dumps({"files": listed}))


@pytest.fixture
def profiles(tmp_path, monkeypatch):
    folder = tmp_path / "profiles"
    marketplace.write_profiles(folder)
    monkeypatch.setenv("IMPORT_PROFILES_DIR", str(folder))
    return folder


def test_a_four_file_dump_loads_as_one_batch_each_file_by_its_profile(
    defs, instance, landing, pipeline_env, profiles
):
    drop(landing, marketplace.FILES)
    (request,) = tick(instance, landing, pipeline_env).run_requests
    result = run(defs, instance, request)
    succeeded({"dump": result})

    staged = materialization(result, "staged_batch")
    assert staged["profiles"] == {
        "clientes_2018-09.csv": "olist_customers",
        "olist_order_items_dataset.csv": "olist_items",
        "olist_orders_dataset.csv": "olist_orders",
        "olist_products_dataset.csv": "olist_products",
    }
    assert (staged["rejected"], staged["lookup/category_en/misses"]) == (0, 1)
    counts = {
        t: query(pipeline_env, f"SELECT count(*) FROM commerce.{t}")[0][0]
        for t in ("customers", "products", "orders", "line_items")
    }
    assert counts == {"customers": 3, "products": 3, "orders": 4, "line_items": 5}
    assert query(pipeline_env, "SELECT count(*) FROM ingest.held_rows") == [(0,)]
    assert query(pipeline_env, "SELECT category FROM commerce.products ORDER BY 1") == [
        ("housewares",),
        ("pc_gamer",),
        ("perfumery",),
    ]
    assert query(
        pipeline_env, "SELECT order_id, status FROM commerce.orders ORDER BY ordered_at"
    ) == [
        (marketplace.O1, "delivered"),
        (marketplace.O4, "shipped"),
        (marketplace.O2, "paid"),
        (marketplace.O3, "cancelled"),
    ]


def test_one_unusable_file_fails_the_whole_dump_and_nothing_loads(
    defs, instance, landing, pipeline_env, profiles
):
    files = dict(marketplace.FILES)
    files["olist_order_items_dataset.csv"] = files["olist_order_items_dataset.csv"].replace(
        ",price,", ",preco,"
    )
    drop(landing, files)
    (request,) = tick(instance, landing, pipeline_env).run_requests
    result = run(defs, instance, request)
    assert not result.success
    (error,) = query(pipeline_env, "SELECT error FROM ingest.files")[0]
    assert "MissingColumns: olist_order_items_dataset.csv" in error and "price" in error
    for table in ("customers", "products", "orders", "line_items"):
        assert query(pipeline_env, f"SELECT count(*) FROM commerce.{table}") == [(0,)]
