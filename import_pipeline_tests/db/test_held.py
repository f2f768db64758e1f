"""Held rows tell the current truth: what they miss is rechecked whenever they are settled."""

from import_pipeline.core.entities import LINE_ITEMS
from import_pipeline.load.held import expire_and_release
from import_pipeline_tests.db.support import load, table

LINE = {
    "line_item_id": "L1",
    "order_id": "O1",
    "product_id": "P1",
    "quantity": "1",
    "unit_price": "2",
    "updated_at": "2024-05-01",
}


def test_a_line_held_for_two_parents_names_only_the_one_still_missing_and_expires_on_it(conn):
    assert load(conn, "line_items", [LINE]).held == 1
    held = "SELECT missing FROM ingest.held_rows"
    assert table(conn, held) == [(["order_id", "product_id"],)]

    load(conn, "products", [{"product_id": "P1", "sku": "S1", "name": "tea", "price": "2"}])
    expire_and_release(conn, LINE_ITEMS, "default", 3600)
    assert table(conn, held) == [(["order_id"],)]

    assert expire_and_release(conn, LINE_ITEMS, "default", 0).expired == 1
    assert table(conn, "SELECT errors FROM ingest.rejects") == [(["order_id:parent_missing"],)]
