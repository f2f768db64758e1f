"""Profile expressions: arithmetic, rounding, regex, case, trim, pad, concatenation and
dates compiled to polars (never eval), checked through the entity's rules; a mistake
names the file, the line and the operation."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from import_pipeline.core.profile_yaml import ProfileError
from import_pipeline.core.profiles import profile_from_file
from import_pipeline.core.stage_local import stage_in_memory

# A marketplace's order items as its dump writes them: float-formatted ids from a
# spreadsheet round trip, day-first times, price and freight in separate columns.
HEADER = "order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value,qty"
ORDER_ITEMS = "\n".join(
    [
        HEADER,
        "00010242fe8c5a6d1ba2dd792cb16214,1,4244733e06e7ecb4970a6e2683c13e61,13085.0,"
        "19/09/2017 09:45,58.90,13.29,2",
        "00010242fe8c5a6d1ba2dd792cb16214,2,e5f2d52b802189ee658865ca93d83a8f,7.0,"
        "19/09/2017 09:45,19.99,0.01,3",
        "00018f77f2f0320c557190d7a144bdd3,1,e5f2d52b802189ee658865ca93d83a8f,48436.0,"
        "03/05/2017 11:05,239.90,19.93,n/a",
    ]
).encode()

PROFILE = """\
files: ["order_items*.csv"]
entities:
  products:
    fields:
      product_id: product_id
      sku:
        upper:
          concat:
            - {extract: {value: product_id, pattern: "^(.{6})"}}
            - {constant: "-"}
            - {pad: {value: {extract: {value: seller_id, pattern: "^([0-9]+)"}}, length: 6,
                     with: "0"}}
      name: {replace: {value: product_id, pattern: "^(.{4}).*$", with: "Item $1"}}
      price: {round: {value: {add: [price, freight_value]}, digits: 1}}
  line_items:
    fields:
      line_item_id:
        concat: [order_id, {constant: "-"}, {trim: {value: order_item_id, chars: "0",
                                                    side: start}}]
      order_id: order_id
      product_id: product_id
      quantity: qty
      unit_price: price
      line_total: {multiply: [price, qty]}
      updated_at: {parse_time: {value: shipping_limit_date, format: "%d/%m/%Y %H:%M"}}
    attributes: []
"""


def write(directory: Path, text: str) -> Path:
    path = directory / "marketplace_items.yaml"
    path.write_text(text)
    return path


def test_arithmetic_regex_case_pad_and_a_date_format_map_a_marketplace_dump(tmp_path):
    profile = profile_from_file(write(tmp_path, PROFILE))
    landed = datetime(2024, 5, 1, tzinfo=UTC)
    with stage_in_memory([("order_items.csv", ORDER_ITEMS)], "b", landed, profile) as (
        staged,
        rows,
    ):
        lines = rows["line_items"].sort("line_item_id")
        products = rows["products"].sort("product_id")
        rejects = staged.rejects().collect()
    assert lines["line_item_id"].to_list() == [
        "00010242fe8c5a6d1ba2dd792cb16214-1",
        "00010242fe8c5a6d1ba2dd792cb16214-2",
    ]
    assert [str(v) for v in lines["line_total"]] == ["117.8000", "59.9700"]
    assert [str(v) for v in lines["updated_at"]] == [
        "2017-09-19 09:45:00+00:00",
        "2017-09-19 09:45:00+00:00",
    ]
    # `n/a` is no quantity: the multiplication gives it back, and the field rejects it.
    assert rejects["_errors"].to_list() == [["quantity:int", "line_total:decimal"]]
    assert products["sku"].to_list() == ["424473-013085", "E5F2D5-048436"]
    assert products["name"].to_list() == ["Item 4244", "Item e5f2"]
    assert [str(v) for v in products["price"]] == ["72.2000", "259.8000"]


def test_time_parts_and_whole_number_rounding(tmp_path):
    text = PROFILE.replace(
        'name: {replace: {value: product_id, pattern: "^(.{4}).*$", with: "Item $1"}}',
        'name: {concat: [{constant: "month "}, {time_part: {value: shipping_limit_date, '
        'part: month, format: "%d/%m/%Y %H:%M"}}]}',
    ).replace("digits: 1", "digits: 0")
    profile = profile_from_file(write(tmp_path, text))
    landed = datetime(2024, 5, 1, tzinfo=UTC)
    with stage_in_memory([("order_items.csv", ORDER_ITEMS)], "b", landed, profile) as (_, rows):
        products = rows["products"].sort("product_id")
    assert products["name"].to_list() == ["month 9", "month 5"]
    assert [str(v) for v in products["price"]] == ["72.0000", "260.0000"]


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("{multiply: [price, qty]}", "{multiply: price}", 24, "multiply: expected a list"),
        ("digits: 1", "digits: -1", 14, "round: digits is a whole number"),
        ('pattern: "^(.{6})"', 'pattern: "^(.{6}"', 9, "extract: the pattern is not a valid"),
        ('pattern: "^(.{6})"', 'pattern: "^.{6}"', 9, "extract: the pattern has no group 1"),
        ('format: "%d/%m/%Y %H:%M"', 'format: "dd/mm/yyyy"', 25, "parse_time: a format is"),
        ("length: 6", "lenght: 6", 11, "pad: unknown key 'lenght'"),
    ],
)
def test_a_bad_expression_names_the_file_the_line_and_the_operation(
    tmp_path, old, new, line, words
):
    path = write(tmp_path, PROFILE.replace(old, new))
    with pytest.raises(ProfileError) as raised:
        profile_from_file(path)
    message = str(raised.value)
    assert str(path) in message and f"line {line}: " in message and words in message
