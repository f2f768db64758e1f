"""Validation: every rule of every row at once; rejects say which rules a row broke."""

from datetime import UTC, datetime
from decimal import Decimal

import polars as pl

from import_pipeline.core.columns import ERRORS
from import_pipeline.core.entities import CUSTOMERS, LINE_ITEMS, ORDERS, PRODUCTS
from import_pipeline.core.rules import CastOptions
from import_pipeline.core.validate import validate


def frame(rows: list[dict]) -> pl.DataFrame:
    return (
        pl.DataFrame(rows, schema={k: pl.String for k in rows[0]})
        .with_row_index("_row", offset=1)
        .with_columns(pl.col("_row").cast(pl.Int64))
    )


def errors_of(result) -> dict[int, list[str]]:
    return dict(zip(result.rejects["_row"], result.rejects[ERRORS].to_list(), strict=True))


def test_a_row_that_breaks_several_rules_reports_all_of_them():
    result = validate(
        frame(
            [
                {
                    "line_item_id": "L1",
                    "order_id": "",
                    "product_id": "P1",
                    "quantity": "0",
                    "unit_price": "-1",
                    "line_total": "abc",
                }
            ]
        ),
        LINE_ITEMS,
        CastOptions(),
    )
    assert sorted(errors_of(result)[1]) == [
        "line_total:decimal",
        "order_id:required",
        "quantity:minimum",
        "unit_price:minimum",
    ]
    assert result.valid.height == 0


def test_formats_enums_and_lengths_are_checked():
    result = validate(
        frame(
            [
                {"order_id": "O1", "status": "PAID", "currency": "usd", "ordered_at": "2024-01-01"},
                {"order_id": "O2", "status": "lost", "currency": "XYZ", "ordered_at": "yesterday"},
                {
                    "order_id": "O" * 65,
                    "status": "paid",
                    "currency": "EUR",
                    "ordered_at": "2024-01-01",
                },
            ]
        ),
        ORDERS,
        CastOptions(),
    )
    assert errors_of(result) == {
        2: ["status:choice", "currency:format", "ordered_at:timestamp"],
        3: ["order_id:max_length"],
    }
    assert result.valid.select("status", "currency").row(0) == ("paid", "USD")


def test_text_is_sanitised_and_emails_lower_cased():
    result = validate(
        frame(
            [
                {"customer_id": "\ufeff C1\x00 ", "email": "  Ada@Example.COM\t", "phone": "   "},
                {"customer_id": "C2", "email": "not-an-email", "phone": "1"},
            ]
        ),
        CUSTOMERS,
        CastOptions(),
    )
    assert result.valid.select("customer_id", "email", "phone").row(0) == (
        "C1",
        "ada@example.com",
        None,
    )
    assert errors_of(result) == {2: ["email:format"]}


def test_line_total_must_equal_quantity_times_unit_price_within_a_cent():
    rows = [
        {
            "line_item_id": f"L{i}",
            "order_id": "O",
            "product_id": "P",
            "quantity": "3",
            "unit_price": "0.333",
            "line_total": total,
        }
        for i, total in enumerate(["1.00", "0.99", "1.02", ""])
    ]
    result = validate(frame(rows), LINE_ITEMS, CastOptions())
    assert errors_of(result) == {3: ["line_total:arithmetic"]}


def test_values_are_cast_to_the_spec_types_and_timestamps_to_utc():
    result = validate(
        frame(
            [
                {
                    "product_id": "P1",
                    "name": "Tea",
                    "price": "3.50",
                    "updated_at": "2024-05-01 12:00:00+02:00",
                }
            ]
        ),
        PRODUCTS,
        CastOptions(),
    )
    row = result.valid.row(0, named=True)
    assert row["price"] == Decimal("3.5")
    assert row["updated_at"] == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_naive_timestamps_are_read_in_the_profile_time_zone():
    result = validate(
        frame([{"order_id": "O1", "status": "paid", "ordered_at": "2024-07-01 09:00"}]),
        ORDERS,
        CastOptions(time_zone="America/New_York"),
    )
    assert result.valid["ordered_at"][0] == datetime(2024, 7, 1, 13, tzinfo=UTC)


def test_unmapped_columns_are_kept_as_json_attributes():
    result = validate(
        frame([{"customer_id": "C1", "loyalty_tier": " gold ", "notes": ""}]),
        CUSTOMERS,
        CastOptions(),
    )
    assert result.valid["attributes"][0] == '{"loyalty_tier":"gold","notes":null}'


def test_rejects_carry_the_raw_values_and_counts_by_rule():
    result = validate(
        frame([{"customer_id": "", "email": "x"}, {"customer_id": "", "email": "a@b.co"}]),
        CUSTOMERS,
        CastOptions(),
    )
    assert result.rejects["email"].to_list() == ["x", "a@b.co"]
    assert result.rejects_by_rule() == {"customer_id:required": 2, "email:format": 1}


def test_each_timestamp_is_read_with_the_first_format_that_parses_it():
    options = CastOptions(
        timestamp_formats=("%m/%d/%y %H:%M", *CastOptions().timestamp_formats),
        time_zone="Europe/London",
    )
    stamps = [
        "07/01/24 09:00",
        "2024-07-01T09:00:00+02:00",
        "2024-07-01 09:00",
        "2024-10-27 01:30",
        "2024-03-31 01:30",
        "yesterday",
    ]
    result = validate(
        frame(
            [{"order_id": f"O{i}", "status": "paid", "ordered_at": s} for i, s in enumerate(stamps)]
        ),
        ORDERS,
        options,
    )
    assert result.valid["ordered_at"].to_list() == [
        datetime(2024, 7, 1, 8, tzinfo=UTC),
        datetime(2024, 7, 1, 7, tzinfo=UTC),
        datetime(2024, 7, 1, 8, tzinfo=UTC),
        datetime(2024, 10, 27, 0, 30, tzinfo=UTC),
    ]
    # 01:30 on 31 March does not exist in London; no format reads "yesterday"
    assert errors_of(result) == {5: ["ordered_at:timestamp"], 6: ["ordered_at:timestamp"]}


def test_whole_numbers_are_read_plain_or_through_a_float_and_only_when_exact():
    quantities = ["+7", "1,000", "3.0", "1e3", "1.5", "9007199254740993", "-9223372036854775808"]
    rows = [
        {
            "line_item_id": f"L{i}",
            "order_id": "O",
            "product_id": "P",
            "quantity": q,
            "unit_price": "1",
        }
        for i, q in enumerate(quantities, start=1)
    ]
    result = validate(frame(rows), LINE_ITEMS, CastOptions())
    assert result.valid["quantity"].to_list() == [7, 1000, 3, 1000]
    assert errors_of(result) == {5: ["quantity:int"], 6: ["quantity:int"], 7: ["quantity:int"]}
