"""A product's barcode must be a GTIN whose check digit holds; anything else is a reject."""

import polars as pl
import pytest

from import_pipeline.core.entities import PRODUCTS
from import_pipeline.core.rules import CastOptions
from import_pipeline.core.validate import validate

VALID = ["96385074", "036000291452", "4006381333931", "00012345600012"]
INVALID = ["4006381333932", "36000291452", "400638133393", "4006381333931X", "ABCDEFGH"]


@pytest.mark.parametrize("barcode", VALID)
def test_gtin_8_12_13_and_14_with_their_check_digit_are_valid(barcode):
    checked = validate(pl.DataFrame({"_row": [1], "product_id": ["P"], "name": ["n"],
                                     "barcode": [barcode], "brand": ["Acme"]}),
                       PRODUCTS, CastOptions())  # fmt: skip

    assert checked.rejects.height == 0
    assert checked.valid.select("barcode", "brand").row(0) == (barcode, "Acme")


@pytest.mark.parametrize("barcode", INVALID)
def test_a_wrong_check_digit_length_or_character_is_a_gtin_reject(barcode):
    frame = pl.DataFrame({"_row": [1], "product_id": ["P"], "name": ["n"], "barcode": [barcode]})
    checked = validate(frame, PRODUCTS, CastOptions())

    assert checked.valid.height == 0
    assert checked.rejects["_errors"].to_list() == [["barcode:gtin"]]
