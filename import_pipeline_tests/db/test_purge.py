"""A purge deletes one tenant's rows (or one batch's) and nothing else, children first, in
chunks no reader waits on, and truncates a table only when that tenant alone fills it."""

import time

import psycopg2
import pytest
from psycopg2.extensions import connection

from bench.reader import Reader
from import_pipeline.core.purge import PurgeRefused, plan_purge
from import_pipeline.db import purge
from import_pipeline_tests.db.support import load, table

ROWS = 600


def fill(conn: connection, tenant: str, batch: str = "b1", rows: int = ROWS) -> None:
    """Customers, products, orders and line items of `tenant`, and one held line."""
    load(conn, "customers", [{"customer_id": f"C{i:04}"} for i in range(rows)], batch, tenant)
    products = [{"product_id": f"P{i:04}", "name": "tea"} for i in range(rows)]
    load(conn, "products", products, batch, tenant)
    orders = [
        {
            "order_id": f"O{i:04}",
            "customer_id": f"C{i:04}",
            "status": "paid",
            "ordered_at": "2024-05-01",
        }
        for i in range(rows)
    ]
    load(conn, "orders", orders, batch, tenant)
    lines = [
        {
            "line_item_id": f"L{i:04}",
            "order_id": f"O{i:04}",
            "product_id": f"P{i:04}",
            "quantity": "1",
            "unit_price": "2",
        }
        for i in range(rows)
    ]
    lines.append(
        {
            "line_item_id": "LX",
            "order_id": "O-none",
            "product_id": "P0000",
            "quantity": "1",
            "unit_price": "2",
        }
    )
    load(conn, "line_items", lines, batch, tenant)


def rows_of(conn: connection, tenant: str) -> dict[str, list[tuple]]:
    tables = ("customers", "products", "orders", "line_items")
    found = {
        t: table(conn, f"SELECT * FROM commerce.{t} WHERE tenant = %s ORDER BY 2", (tenant,))
        for t in tables
    }
    found["held"] = table(
        conn, "SELECT entity, key FROM ingest.held_rows WHERE tenant = %s", (tenant,)
    )
    return found


def test_a_purge_of_tenant_a_leaves_tenant_b_untouched_and_never_blocks_a_reader(
    conn, database_url
):
    fill(conn, "A")
    fill(conn, "B")
    before_b = rows_of(conn, "B")
    reader = Reader(database_url)
    reader.start()
    while reader.reading.queries < 4:  # reading already when the purge starts
        time.sleep(0.01)
    plan = plan_purge("A", "A", [])
    purge_id = purge.start(conn, plan, "run-1")
    counts = purge.purge(conn, plan, chunk_rows=50, lock_wait_ms=200)
    purge.finish(conn, purge_id, counts, None)
    reading = reader.stop()

    assert rows_of(conn, "A") == {t: [] for t in before_b}
    assert rows_of(conn, "B") == before_b
    assert counts.deleted == {t: ROWS for t in ("line_items", "orders", "products", "customers")}
    assert counts.held_rows == 1 and counts.truncated == []
    assert reading.timeouts == [] and reading.locks == set()
    ledger = "SELECT tenant, status, truncated, counts -> 'deleted' -> 'orders' FROM ingest.purges"
    assert table(conn, ledger) == [("A", "succeeded", [], ROWS)]


def test_a_table_holding_only_the_tenant_is_truncated_and_the_ledger_says_so(conn):
    fill(conn, "A", rows=20)
    load(conn, "products", [{"product_id": "PB", "name": "tea"}], "b1", "B")
    plan = plan_purge("A", "A", [])
    counts = purge.purge(conn, plan, chunk_rows=50, lock_wait_ms=200)
    # products also hold B, so line items (which reference products) are truncated with
    # orders and customers, and products are deleted in chunks
    assert sorted(counts.truncated) == ["customers", "line_items", "orders"]
    assert counts.deleted == {"products": 20}
    assert table(conn, "SELECT tenant, product_id FROM commerce.products") == [("B", "PB")]


def test_a_truncate_a_reader_holds_up_falls_back_to_chunks_and_says_why(conn, database_url):
    fill(conn, "A", rows=20)
    reader = psycopg2.connect(database_url)
    with reader.cursor() as cur:
        cur.execute("SELECT count(*) FROM commerce.customers")  # holds its lock until commit
        counts = purge.purge(conn, plan_purge("A", "A", []), chunk_rows=50, lock_wait_ms=50)
    reader.close()
    assert counts.truncated == []
    assert "readers held" in counts.truncate_skipped
    assert counts.deleted["customers"] == 20
    assert table(conn, "SELECT count(*) FROM commerce.customers") == [(0,)]


def test_a_batch_purge_keeps_a_parent_another_batch_still_references(conn):
    load(conn, "customers", [{"customer_id": "C1"}, {"customer_id": "C2"}], "b1", "A")
    order = {"order_id": "O1", "customer_id": "C1", "status": "paid", "ordered_at": "2024-05-01"}
    load(conn, "orders", [order], "b2", "A")
    counts = purge.purge(conn, plan_purge("A", "A", [], "b1"), chunk_rows=50, lock_wait_ms=50)
    assert counts.deleted["customers"] == 1 and counts.kept["customers"] == 1
    assert counts.deleted["orders"] == 0 and counts.truncated == []
    assert table(conn, "SELECT customer_id FROM commerce.customers") == [("C1",)]


@pytest.mark.parametrize(
    ("confirm", "entities", "says"),
    [
        ("a", [], "is not the tenant's name"),
        ("", [], "is not the tenant's name"),
        ("A", ["customers"], "line_items, orders would still reference"),
        ("A", ["carts"], "unknown entities carts"),
    ],
)
def test_a_purge_is_refused_without_the_tenants_name_or_with_children_left_behind(
    confirm, entities, says
):
    with pytest.raises(PurgeRefused, match=says):
        plan_purge("A", confirm, entities)
