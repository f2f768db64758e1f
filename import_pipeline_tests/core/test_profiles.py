"""Profiles: YAML checked on load with the bad line named; choice by file name or prefix;
derivations as polars expressions on plain frames."""

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from import_pipeline.core.columns import ROW
from import_pipeline.core.errors import MissingColumns
from import_pipeline.core.parse import parse_bytes
from import_pipeline.core.profile_yaml import ProfileError
from import_pipeline.core.profiles import (
    CANONICAL,
    DEFAULT_PROFILES_DIR,
    all_profiles,
    load_profile,
    profile_from_file,
    resolve_profile,
)
from import_pipeline.core.quality import quality_score
from import_pipeline.core.stage_local import stage_in_memory


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(text)
    return path


def frame(**columns: list[str | None]) -> pl.DataFrame:
    return (
        pl.DataFrame(columns).with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    )


MINIMAL = """\
files: ["acme_*.csv"]
entities:
  customers:
    fields:
      customer_id: id
"""


def test_every_shipped_profile_loads():
    names = {p.name for p in all_profiles(DEFAULT_PROFILES_DIR)}
    assert names == {
        "jaffle_customers",
        "jaffle_items",
        "jaffle_orders",
        "jaffle_products",
        "online_retail",
        "seed_ndjson",
        "shopify_orders",
        "shopify_products",
    }


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (MINIMAL.replace("files:", "filez:"), 1, "unknown key 'filez'"),
        (MINIMAL.replace("customers:", "clients:"), 3, "unknown key 'clients'"),
        (MINIMAL.replace("customer_id: id", "customer_id: id\n      colour: x"), 6, "'colour'"),
        (MINIMAL.replace("customer_id: id", "email: mail"), 5, "needs the field(s) customer_id"),
        (
            MINIMAL.replace("customer_id: id", "customer_id: {templat: x}"),
            5,
            "unknown key 'templat'",
        ),
        (MINIMAL.replace("customer_id: id", "customer_id: {template: x}"), 5, "placeholder"),
        (MINIMAL + "read:\n  time_zone: Mars/Olympus\n", 7, "unknown time zone"),
        (MINIMAL + "read:\n  delimiter: ';;'\n", 7, "single character"),
        (MINIMAL + "max_reject_rate: 2\n", 6, "between 0 and 1"),
        (MINIMAL + "read:\n  encoding: klingon\n", 7, "unknown encoding"),
        (MINIMAL + "read:\n  skip_rows: -1\n", 7, "whole number"),
        (MINIMAL.replace("fields:", "fields: [a"), 5, "not valid YAML"),
        (MINIMAL + "partial_rows: {customers: [customer_id]}\n", 6, "cannot keep a stored"),
        (MINIMAL + "partial_rows: {customers: false}\n", 6, "true or a list"),
    ],
)
def test_a_bad_profile_names_its_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, "acme", text)
    with pytest.raises(ProfileError) as raised:
        profile_from_file(path)
    message = str(raised.value)
    assert str(path) in message and f"line {line}:" in message and words in message


def test_the_most_specific_matching_profile_wins_else_canonical(tmp_path):
    write(tmp_path, "acme", MINIMAL)
    write(tmp_path, "acme_eu", MINIMAL.replace('"acme_*.csv"', '"acme_eu_*.csv"'))
    write(tmp_path, "by_prefix", MINIMAL.replace('"acme_*.csv"', '"partner_x/*"'))
    assert resolve_profile("acme_2024.csv", tmp_path).name == "acme"
    assert resolve_profile("ACME_EU_2024.CSV", tmp_path).name == "acme_eu"
    assert resolve_profile("partner_x/", tmp_path).name == "by_prefix"
    assert resolve_profile("customers_2024.csv", tmp_path) is CANONICAL
    assert load_profile("canonical", tmp_path) is CANONICAL
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile("nope", tmp_path)


def test_fan_out_with_forward_fill_row_numbers_templates_and_value_maps(tmp_path):
    path = write(
        tmp_path,
        "shop",
        """\
files: ["shop_*.csv"]
forward_fill: {by: [order], columns: [state]}
derive:
  line: {row_number: {by: [order]}}
entities:
  orders:
    one_row_per: [order]
    fields:
      order_id: order
      status:
        when:
          - if: {column: order, starts_with: C}
            then: {constant: cancelled}
        else: {map: {column: state, values: {Done: completed}}}
      ordered_at: {constant: "2024-01-01"}
    attributes: []
  line_items:
    fields:
      line_item_id: {template: "{order}-{line}"}
      order_id: order
      product_id: {coalesce: [sku, name]}
      quantity: {abs: qty}
      unit_price: {scale: {column: cents, divide_by: 100}}
""",
    )
    source = frame(
        order=["A", "A", "C9"],
        state=["Done", "", "Done"],
        sku=["S1", None, "S1"],
        name=["Tea", "Tip", "Tea"],
        qty=["2", "1", "-3"],
        cents=["350", "100", "x"],
    )
    slices = profile_from_file(path).slices(source, "shop_1.csv").slices
    assert_frame_equal(
        slices["orders"].rows.select("order_id", "status"),
        pl.DataFrame({"order_id": ["A", "C9"], "status": ["completed", "cancelled"]}),
    )
    assert (slices["orders"].skipped, slices["line_items"].skipped) == ({"one_row_per": 1}, {})
    assert_frame_equal(
        slices["line_items"].rows.drop(ROW),
        pl.DataFrame(
            {
                "line_item_id": ["A-1", "A-2", "C9-1"],
                "order_id": ["A", "A", "C9"],
                "product_id": ["S1", "Tip", "S1"],
                "quantity": ["2", "1", "3"],
                "unit_price": ["3.5", "1.0", "x"],
                "state": ["Done", "Done", "Done"],
            }
        ),
    )


def test_read_options_skip_preamble_lines_and_read_decimal_commas(tmp_path):
    profile = profile_from_file(
        write(
            tmp_path,
            "acme",
            MINIMAL.replace("customer_id: id", "customer_id: id\n      phone: tel")
            + "read:\n  skip_rows: 2\n  delimiter: '\\t'\n  decimal_comma: true\n",
        )
    )
    data = b"Export of 2024-05-01\n\nid\ttel\n1\t+49 30 1\n"
    parsed = parse_bytes(data, "acme_1.csv", profile.read)
    assert parsed.select("id", "tel").rows() == [("1", "+49 30 1")]
    assert profile.cast.decimal_comma


def test_a_column_the_profile_reads_must_be_in_the_file(tmp_path):
    profile = profile_from_file(write(tmp_path, "acme", MINIMAL))
    with pytest.raises(MissingColumns, match="reads the column"):
        profile.slices(frame(identifier=["1"]), "acme_1.csv")


def test_quality_score_rewards_complete_listings():
    rows = pl.DataFrame(
        {
            "name": ["Mug", "Mug"],
            "category": ["Drinkware", None],
            "price": ["9.5", None],
            "sku": ["M-1", None],
            "barcode": ["4006381333931", None],
            "brand": ["Acme", None],
            "Body (HTML)": ["<p>white</p>", None],
            "image": ["https://x/1.png", None],
            "Vendor": ["Acme", None],
        }
    )
    scores = rows.select(quality_score(["Body (HTML)", "image", "Vendor"])).to_series()
    # basic info 30, barcode 20, images 20, attributes 3 each (SKU, brand, body, Vendor)
    assert scores.to_list() == [30 + 20 + 20 + 4 * 3, 10]


def test_short_rows_pad_is_an_explicit_read_option_and_reject_the_default(tmp_path):
    padded = profile_from_file(write(tmp_path, "acme", MINIMAL + "read:\n  short_rows: pad\n"))
    assert (
        padded.read.pad_short_rows
        and not profile_from_file(write(tmp_path, "b", MINIMAL)).read.pad_short_rows
    )
    with pytest.raises(ProfileError, match="short_rows is pad or reject"):
        profile_from_file(write(tmp_path, "c", MINIMAL + "read:\n  short_rows: cut\n"))


SEED_ID = "0b7c4f9e-1d2a-4c3b-9e8f-7a6b5c4d3e2f"


def test_the_seed_ndjson_feed_requires_uuid_keys_and_rejects_naming_the_rule():
    profile = resolve_profile("customers_2024-05.ndjson", DEFAULT_PROFILES_DIR)
    assert profile.name == "seed_ndjson"
    assert resolve_profile("customers_2024-05.csv", DEFAULT_PROFILES_DIR) is CANONICAL
    rows = [{"customer_id": SEED_ID}, {"customer_id": "not-a-uuid"}]
    data = "".join(json.dumps(row) + "\n" for row in rows).encode()
    landed = datetime(2024, 5, 1, tzinfo=UTC)

    with stage_in_memory([("customers_1.ndjson", data)], "b", landed, profile) as (staged, out):
        assert out["customers"]["customer_id"].to_list() == [SEED_ID]
        assert staged.rejects_by_rule() == {"customer_id:uuid": 1}


def test_a_profile_may_require_a_pattern_or_a_length_of_any_field(tmp_path):
    text = MINIMAL + "require:\n  customers:\n    customer_id: {pattern: 'C[0-9]+', length: 3}\n"
    profile = profile_from_file(write(tmp_path, "acme", text))
    data = b"id\nC12\nC1\nX12\n"
    landed = datetime(2024, 5, 1, tzinfo=UTC)

    with stage_in_memory([("acme_1.csv", data)], "b", landed, profile) as (staged, out):
        assert out["customers"]["customer_id"].to_list() == ["C12"]
        assert {
            r[0]: r[1] for r in staged.rejects().select("customer_id", "_errors").collect().rows()
        } == {
            "C1": ["customer_id:length"],
            "X12": ["customer_id:pattern"],
        }


@pytest.mark.parametrize(
    ("require", "words"),
    [
        ("customers:\n    customer_id: guid", "one of uuid, email"),
        ("customers:\n    customer_id: {pattern: '(['}", "not a valid regex"),
        ("customers:\n    colour: uuid", "unknown key 'colour'"),
        ("clients:\n    customer_id: uuid", "unknown key 'clients'"),
        ("customers:\n    customer_id: {size: 3}", "unknown key 'size'"),
    ],
)
def test_a_bad_requirement_names_its_line(tmp_path, require, words):
    with pytest.raises(ProfileError, match=words):
        profile_from_file(write(tmp_path, "acme", MINIMAL + "require:\n  " + require + "\n"))


def test_a_profile_without_entities_is_canonical_and_may_not_rename(tmp_path):
    profile = profile_from_file(write(tmp_path, "acme", 'files: ["acme_*.csv"]\n'))
    assert profile.mapping is None
    with pytest.raises(ProfileError, match="rename needs `entities`"):
        profile_from_file(write(tmp_path, "b", 'files: ["b_*"]\nrename: {a: b}\n'))


def test_every_profile_key_and_operation_has_an_example_in_the_profiles_readme():
    from import_pipeline.core import profile_fields, profile_yaml

    readme = (DEFAULT_PROFILES_DIR / "README.md").read_text()
    keys = [
        *profile_yaml.TOP_KEYS,
        *profile_yaml.READ_KEYS,
        *profile_yaml.ENTITY_KEYS,
        *profile_yaml.REQUIREMENT_KEYS,
        *profile_fields.LOOKUP_KEYS,
        *profile_fields.OPERATIONS,
    ]
    undocumented = [k for k in keys if f"`{k}`" not in readme and f"{k}:" not in readme]
    assert undocumented == []
