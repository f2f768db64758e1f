"""UCI Online Retail loads with exact counts computed from the raw file: CR-only line
endings read, the cut-off last record rejected without losing the rest (the only reject:
stock adjustments are skipped, not rejected), `C` invoices cancelled, blank CustomerID as
guest orders; the "II" layout of the same invoices then
converges onto the same rows."""

import polars as pl
import pytest

from import_pipeline_tests.samples.expect import raw_csv, succeeded
from import_pipeline_tests.samples.support import TABLES, Loader
from import_pipeline_tests.support import SAMPLES, materialization, query

RETAIL = SAMPLES / "online_retail/online_retail_head_14k_CR.csv"
RETAIL_II = SAMPLES / "online_retail/online_retail_II_head98_bom.csv"

pytestmark = pytest.mark.postgres


def expected_counts() -> tuple[dict[str, int], dict[str, int]]:
    raw = raw_csv(RETAIL, eol_char="\r", truncate_ragged_lines=True)
    complete = raw.filter(pl.col("Country").is_not_null())
    assert raw.height - complete.height == 1  # the cut-off last record: one row:field_count
    cancelled = pl.col("InvoiceNo").str.starts_with("C")
    lines = complete.filter(cancelled | (pl.col("Quantity").cast(pl.Int64) > 0))
    described = complete.filter(pl.col("Description").is_not_null())["StockCode"].unique()
    held = lines.filter(~pl.col("StockCode").is_in(described.implode())).height
    # Stock adjustments (quantity <= 0 on a normal invoice) are no sale: no order, no line.
    invoices = lines.unique("InvoiceNo", keep="first")
    counts = {
        "customers": complete["CustomerID"].drop_nulls().n_unique(),
        "products": described.len(),
        "orders": invoices.height,
        "line_items": lines.height - held,
        "rejects/line_items": 1,
    }
    if held:
        counts["held_rows/line_items"] = held
    statuses = {
        "cancelled": invoices.filter(cancelled).height,
        "completed": invoices.filter(~cancelled).height,
        "guest": invoices.filter(pl.col("CustomerID").is_null()).height,
    }
    return counts, statuses


def test_online_retail_loads_every_complete_record(loader: Loader):
    counts, statuses = expected_counts()

    succeeded(loader.load((RETAIL, "online_retail_head_14k_CR.csv")))

    assert loader.counts() == counts
    rows = query(
        loader.database_url,
        "SELECT count(*) FILTER (WHERE status = 'cancelled'),"
        " count(*) FILTER (WHERE status = 'completed'),"
        " count(*) FILTER (WHERE customer_id IS NULL) FROM commerce.orders",
    )
    assert rows == [(statuses["cancelled"], statuses["completed"], statuses["guest"])]
    assert query(
        loader.database_url, "SELECT count(*) FROM commerce.line_items WHERE quantity <= 0"
    ) == [(0,)]


def test_the_ii_layout_of_the_same_invoices_converges(loader: Loader):
    succeeded(loader.load((RETAIL, "online_retail_head_14k_CR.csv")))
    counts, rows = loader.counts(rejects=False), loader.snapshot()

    (result,) = loader.load((RETAIL_II, "online_retail_II_head98_bom.csv")).values()
    succeeded({"ii": result})

    for table in TABLES:
        loaded = materialization(result, table)
        assert (loaded["inserted"], loaded["updated"]) == (0, 0), (table, loaded)
    assert materialization(result, "line_items")["rows_staged"] == raw_csv(RETAIL_II).height
    assert loader.counts(rejects=False) == counts
    assert loader.snapshot() == rows
