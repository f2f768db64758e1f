"""The order-totals check's SQL on a real database: which orders it counts and samples."""

from contextlib import ExitStack

import polars as pl
import pytest

from import_pipeline.db import checks
from import_pipeline.db.connect import connected
from import_pipeline_tests.db.support import load
from import_pipeline_tests.support import ORDER


def line(line_item_id: str, order_id: str, total: str) -> dict:
    return {
        "line_item_id": line_item_id,
        "order_id": order_id,
        "product_id": "P1",
        "quantity": "1",
        "unit_price": total,
        "line_total": total,
    }


def ids(*values: str) -> pl.DataFrame:
    return pl.DataFrame({"order_id": list(values)})


@pytest.mark.parametrize("connections", [1, 2])
def test_order_totals_count_each_order_once_and_sample_the_mismatches_in_order(
    conn, database_url, connections
):
    load(conn, "customers", [{"customer_id": "C1"}])
    load(conn, "products", [{"product_id": "P1", "name": "Tea"}])
    orders = [dict(ORDER, order_id=f"O{i}", total="5") for i in range(1, 6)]
    load(conn, "orders", orders)
    # O1 adds up over two lines, O2, O3 and O4 do not, O5 has no line to add up.
    lines = [line("L1", "O1", "2"), line("L2", "O1", "3"), line("L3", "O2", "4")]
    load(conn, "line_items", [*lines, line("L4", "O3", "1"), line("L5", "O4", "6")])

    # The same orders arrive from the orders frame and from the line items' frames. With
    # two connections, each sums the orders whose ids hash to it: O1, O3, O5 to one and
    # O2, O4 to the other, so the sample is merged from both.
    frames = [ids("O1", "O2", "O3", "O4", "O5"), ids("O1", "O2"), ids("O4", "O3", "O1")]
    with ExitStack() as stack:
        more = [stack.enter_context(connected(database_url)) for _ in range(connections - 1)]
        found = checks.order_total_mismatches([conn, *more], "default", iter(frames))
    checked, mismatching, sample = found

    assert (checked, mismatching) == (5, 3)
    assert sample == [
        ("O2", "5.0000", "4.0000"),
        ("O3", "5.0000", "1.0000"),
        ("O4", "5.0000", "6.0000"),
    ]


def test_order_totals_of_matching_orders_report_no_sample(conn):
    load(conn, "customers", [{"customer_id": "C1"}])
    load(conn, "products", [{"product_id": "P1", "name": "Tea"}])
    load(conn, "orders", [ORDER])
    load(conn, "line_items", [line("L1", "O1", "5")])

    frames = [ids("O1"), ids("O1")]
    assert checks.order_total_mismatches([conn], "default", iter(frames)) == (1, 0, [])
