"""A chunk whose key range is empty in the target is copied straight into it; anything the
database refuses there falls back to the stage-table upsert, with the same outcome. The
next chunk is prepared in a background thread that never hides an error or outlives a load."""

import threading
from collections.abc import Iterator
from contextlib import closing

import polars as pl
import pytest
from psycopg2.extensions import connection

from import_pipeline.core.entities import CUSTOMERS, ORDERS, PRODUCTS
from import_pipeline.core.report import LoadCounts
from import_pipeline.db import upsert
from import_pipeline.db.loader import load_chunks, prefetched
from import_pipeline.db.upsert import Direct
from import_pipeline_tests.db.support import load, staged_rows, table
from import_pipeline_tests.support import ORDER


@pytest.fixture
def directs(monkeypatch: pytest.MonkeyPatch) -> list[Direct]:
    """What became of every chunk's direct COPY, in order."""
    seen: list[Direct] = []
    real = upsert.copy_into_empty_range

    def recorded(*args) -> Direct:
        seen.append(real(*args))
        return seen[-1]

    monkeypatch.setattr(upsert, "copy_into_empty_range", recorded)
    return seen


def people(version: str, keys: range) -> list[dict]:
    """Customers whose text needs CSV quoting, with nulls, and an unmapped column."""
    return [
        {
            "customer_id": f"C{i:03}",
            "first_name": f'Zoë "Z", {i}' if i % 2 else "",
            "email": f"c{i}@example.com" if i % 3 else None,
            "loyalty_tier": f"gold\n{i}",
            "updated_at": version,
        }
        for i in keys
    ]


def stored_customers(conn: connection, tenant: str) -> list[tuple]:
    """Every stored column of the tenant's customers but the tenant and the load time."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT to_jsonb(t) - 'tenant' - '_loaded_at' FROM commerce.customers t"
            " WHERE tenant = %s ORDER BY customer_id",
            (tenant,),
        )
        return cur.fetchall()


def test_an_empty_key_range_is_copied_straight_in_with_what_the_upsert_would_store(
    conn, directs, monkeypatch
):
    rows = people("2024-02-01", range(40))
    direct = load(conn, "customers", rows, tenant="direct", chunk_rows=15)
    assert directs == [Direct.LOADED] * 3
    assert table(conn, "SELECT count(*) FROM pg_temp.stage_customers") == [(0,)]

    monkeypatch.setattr(upsert, "copy_into_empty_range", lambda *_: Direct.RANGE_STORED)
    upserted = load(conn, "customers", rows, tenant="upserted", chunk_rows=15)

    assert direct == upserted == LoadCounts(inserted=40)
    assert stored_customers(conn, "direct") == stored_customers(conn, "upserted")


def test_a_key_range_that_holds_rows_goes_through_the_upsert(conn, directs):
    load(
        conn,
        "customers",
        [{"customer_id": "C002", "first_name": "old", "updated_at": "2024-01-01"}],
    )
    counts = load(conn, "customers", people("2024-02-01", range(5)))
    assert directs == [Direct.LOADED, Direct.RANGE_STORED]
    assert counts == LoadCounts(inserted=4, updated=1)
    assert table(conn, "SELECT min(updated_at::date)::text FROM commerce.customers") == [
        ("2024-02-01",)
    ]


def test_an_orphan_in_a_copied_chunk_is_held_and_the_rest_loads(conn, directs):
    load(conn, "customers", [{"customer_id": "C1"}])
    orders = [{**ORDER, "order_id": f"O{i}"} for i in range(1, 5)]
    orders[1]["customer_id"] = "C9"
    counts = load(conn, "orders", orders)
    assert directs[-1] is Direct.ORPHANS
    assert (counts.inserted, counts.held) == (3, 1)
    assert table(conn, "SELECT key, missing FROM ingest.held_rows") == [("O2", ["customer_id"])]
    assert table(conn, "SELECT order_id FROM commerce.orders ORDER BY 1") == [
        ("O1",),
        ("O3",),
        ("O4",),
    ]


def test_a_duplicate_sku_in_a_copied_chunk_is_isolated_as_a_db_reject(conn, directs):
    rows = [{"product_id": f"P{i}", "name": "n", "sku": f"S{i}"} for i in range(10)]
    rows[6]["sku"] = "S2"
    counts, rejects = load_chunks(conn, PRODUCTS, [staged_rows("products", rows)], "default")
    assert directs[0] is Direct.REFUSED
    assert (counts.inserted, counts.rejected) == (9, 1)
    assert [(r.row["product_id"], r.error) for r in rejects] == [("P6", "db:products_sku_unique")]
    assert table(conn, "SELECT count(*) FROM commerce.products") == [(9,)]


def test_a_held_row_loses_to_a_newer_version_copied_straight_in(conn, directs):
    assert load(conn, "orders", [{**ORDER, "updated_at": "2024-01-01"}]).held == 1
    load(conn, "customers", [{"customer_id": "C1"}])
    newer = staged_rows("orders", [{**ORDER, "status": "shipped", "updated_at": "2024-02-01"}])
    counts, _ = load_chunks(conn, ORDERS, [newer], "default")
    assert (directs[-1], counts) == (Direct.LOADED, LoadCounts(inserted=1))
    assert table(conn, "SELECT status FROM commerce.orders") == [("shipped",)]
    assert table(conn, "SELECT count(*) FROM ingest.held_rows") == [(0,)]


def test_line_items_copied_straight_in_keep_their_numbers_and_parents(conn, directs):
    load(conn, "customers", [{"customer_id": "C1"}])
    load(conn, "products", [{"product_id": "P1", "name": "n"}])
    load(conn, "orders", [ORDER])
    items = [
        {
            "line_item_id": f"O1-{n}",
            "order_id": "O1",
            "product_id": "P1",
            "quantity": str(n),
            "unit_price": "2.5",
            "line_total": str(2.5 * n),
        }
        for n in range(1, 4)
    ]
    assert load(conn, "line_items", items) == LoadCounts(inserted=3)
    assert directs[-1] is Direct.LOADED
    assert table(
        conn, "SELECT line_item_id, quantity, unit_price::text FROM commerce.line_items ORDER BY 1"
    ) == [("O1-1", 1, "2.5000"), ("O1-2", 2, "2.5000"), ("O1-3", 3, "2.5000")]


def test_a_chunk_copied_straight_in_is_written_in_the_order_of_its_parents_keys(conn, directs):
    load(conn, "customers", [{"customer_id": c} for c in ("C1", "C2", "C3")])
    customers = {"O1": "C3", "O2": None, "O3": "C1", "O4": "C3", "O5": "C2"}
    orders = [{**ORDER, "order_id": o, "customer_id": c} for o, c in customers.items()]

    assert load(conn, "orders", orders) == LoadCounts(inserted=5)

    assert directs[-1] is Direct.LOADED
    in_the_table = "SELECT order_id, customer_id FROM commerce.orders ORDER BY ctid"
    assert table(conn, in_the_table) == [
        ("O3", "C1"),
        ("O5", "C2"),
        ("O1", "C3"),
        ("O4", "C3"),
        ("O2", None),
    ]


def prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("prefetch")]


def test_an_error_while_reading_the_next_chunk_reaches_the_load_after_earlier_chunks(conn):
    first = staged_rows("customers", [{"customer_id": "C1"}])

    def chunks() -> Iterator[pl.DataFrame]:
        yield first
        raise OSError("staged file vanished")

    with pytest.raises(OSError, match="staged file vanished"):
        load_chunks(conn, CUSTOMERS, chunks(), "default")
    assert table(conn, "SELECT customer_id FROM commerce.customers") == [("C1",)]
    assert prefetch_threads() == []


def test_the_prefetch_runs_at_most_one_item_ahead_and_keeps_the_order():
    pulled: list[int] = []

    def items() -> Iterator[int]:
        for i in range(4):
            pulled.append(i)
            yield i

    seen = []
    for item in prefetched(items(), lambda i: i * 10):
        seen.append((item, max(pulled)))
    assert [item for item, _ in seen] == [0, 10, 20, 30]
    assert all(ahead <= item // 10 + 1 for item, ahead in seen)


def test_a_load_that_stops_early_leaves_no_prefetch_thread_behind():
    with closing(prefetched(range(100), lambda i: i)) as prepared:
        assert next(prepared) == 0
    assert prefetch_threads() == []


def test_the_load_does_not_swallow_an_error_in_preparing_a_chunk(conn):
    without_key = staged_rows("customers", [{"customer_id": "C1"}]).drop(CUSTOMERS.key)
    with pytest.raises(pl.exceptions.ColumnNotFoundError):
        load_chunks(conn, CUSTOMERS, [without_key], "default")
    assert prefetch_threads() == []
