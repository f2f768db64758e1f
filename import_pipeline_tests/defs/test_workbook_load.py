"""A workbook dropped in the landing zone loads through the sensor and the job like a CSV."""

import io
from datetime import UTC, datetime
from decimal import Decimal

import xlsxwriter

from import_pipeline_tests.support import query, run, tick


def products_xlsx() -> bytes:
    """A products sheet (a formula price, a date cell, a number as ID) and a notes sheet."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet = book.add_worksheet("Products")
    sheet.write_row(0, 0, ["product_id", "sku", "name", "price", "currency", "updated_at"])
    sheet.write_row(1, 0, ["P-1", "TEA-1", "Earl Grey"])
    sheet.write_formula(1, 3, "=ROUND(9/2,2)", None, 4.5)
    sheet.write(1, 4, "GBP")
    sheet.write_datetime(1, 5, datetime(2024, 3, 1, 12, 30), stamp)
    sheet.write_row(2, 0, [1002, "TEA-2", "Assam", 9, "GBP", "2024-03-02T00:00:00Z"])
    book.add_worksheet("Notes").write(0, 0, "not read")
    book.close()
    return buffer.getvalue()


def test_a_dropped_workbook_loads_its_first_sheet_into_postgres(
    defs, instance, landing, pipeline_env
):
    (landing / "products_march.xlsx").write_bytes(products_xlsx())

    requests = tick(instance, landing, pipeline_env).run_requests
    result = run(defs, instance, requests[0])

    assert len(requests) == 1 and result.success
    assert query(
        pipeline_env,
        "SELECT product_id, sku, name, price, currency, updated_at FROM commerce.products "
        "ORDER BY product_id",
    ) == [
        ("1002", "TEA-2", "Assam", Decimal("9.0000"), "GBP", datetime(2024, 3, 2, tzinfo=UTC)),
        (
            "P-1",
            "TEA-1",
            "Earl Grey",
            Decimal("4.5000"),
            "GBP",
            datetime(2024, 3, 1, 12, 30, tzinfo=UTC),
        ),
    ]
    assert query(pipeline_env, "SELECT status FROM ingest.files") == [("succeeded",)]
