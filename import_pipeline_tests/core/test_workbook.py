"""Workbooks read like CSV: a named sheet and header row, serial dates, formulas' cached
values, and a named error for each way a workbook can be unusable."""

import io
import zipfile
from datetime import UTC, datetime

import polars as pl
import pytest
import xlsxwriter
from polars.testing import assert_frame_equal

from import_pipeline.core.errors import (
    DuplicateColumns,
    EmptyFile,
    EmptySheet,
    MissingSheet,
    UnreadableWorkbook,
)
from import_pipeline.core.parse import ReadOptions, parse_bytes
from import_pipeline.core.profile_yaml import ProfileError, load_profile_file
from import_pipeline.core.profiles import CANONICAL, Profile
from import_pipeline.core.rules import CastOptions
from import_pipeline.core.stage_local import stage_in_memory

T0 = datetime(2024, 6, 1, tzinfo=UTC)
HEADER = ["product_id", "sku", "name", "price", "currency", "updated_at"]
CSV_TWIN = (
    "product_id,sku,name,price,currency,updated_at\n"
    "1001,TEA-1,Earl Grey,4.5,GBP,2024-03-01 12:00:00\n"
    "P-2,TEA-2,  Assam ,9,GBP,2024-03-02 00:00:00\n"
    "P-3,TEA-3,Green,2.25,EUR,2024-03-03 06:30:00\n"
)


def workbook(build) -> bytes:
    """An xlsx written by xlsxwriter: `build(book)` adds the sheets."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    build(book)
    book.close()
    return buffer.getvalue()


def products_workbook(book) -> None:
    """A notes sheet first; the products sheet has a title, a blank row, the header on row
    3, a formula price, a date-formatted cell and dates stored as bare serial numbers."""
    book.add_worksheet("Notes").write(0, 0, "Prices from the March catalogue")
    sheet = book.add_worksheet("Products")
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet.write(0, 0, "Catalogue export")
    sheet.write_row(2, 0, HEADER)
    sheet.write_row(3, 0, [1001, "TEA-1", "Earl Grey"])
    sheet.write_formula(3, 3, "=ROUND(9/2,2)", None, 4.5)
    sheet.write_row(3, 4, ["GBP", 45352.5])
    sheet.write_row(4, 0, ["P-2", "TEA-2", "  Assam ", 9, "GBP"])
    sheet.write_datetime(4, 5, datetime(2024, 3, 2), stamp)
    sheet.write_row(5, 0, ["P-3", "TEA-3", "Green", 2.25, "EUR", 45354 + 6.5 / 24])


SHEET_PROFILE = Profile(
    name="catalogue",
    read=ReadOptions(sheet="Products", header_row=3),
    cast=CastOptions(excel_dates=True),
)


def staged_products(name: str, data: bytes, profile: Profile) -> pl.DataFrame:
    with stage_in_memory([(name, data)], name, T0, profile) as (staged, rows):
        assert staged.entities["products"].report.rejected == 0
        return rows["products"].drop("_source", strict=False)


def test_a_workbook_stages_the_same_rows_as_its_csv_twin():
    from_workbook = staged_products("products.xlsx", workbook(products_workbook), SHEET_PROFILE)
    from_csv = staged_products("products.csv", CSV_TWIN.encode(), CANONICAL)

    assert from_workbook.height == 3
    assert_frame_equal(from_workbook, from_csv)


def test_cells_arrive_as_the_text_a_person_sees_in_the_sheet():
    rows = parse_bytes(workbook(products_workbook), "products.xlsx", SHEET_PROFILE.read)

    assert rows.columns == ["_row", *HEADER]
    assert rows.row(0) == (1, "1001", "TEA-1", "Earl Grey", "4.5", "GBP", "45352.5")
    assert rows.row(1)[-1] == "2024-03-02 00:00:00"


def test_a_workbook_under_a_csv_name_is_recognised_by_its_bytes():
    rows = parse_bytes(workbook(products_workbook), "products.csv", ReadOptions(sheet="Products"))

    assert rows.columns[:2] == ["_row", "Catalogue export"]


def test_the_first_sheet_is_read_when_the_profile_names_none():
    with pytest.raises(EmptyFile, match="header but no data rows"):
        parse_bytes(workbook(products_workbook), "products.xlsx")

    def build(book):
        book.add_worksheet("Current").write_row(0, 0, ["product_id", "name"])
        book.worksheets()[0].write_row(1, 0, ["P-1", "Tea"])
        book.add_worksheet("Archive").write_row(0, 0, ["old"])

    assert parse_bytes(workbook(build), "products.xlsx").rows() == [(1, "P-1", "Tea")]


def test_a_missing_sheet_is_a_named_error_listing_the_sheets():
    with pytest.raises(MissingSheet, match=r"no sheet named 'Items' \(its sheets: Notes, Products"):
        parse_bytes(workbook(products_workbook), "products.xlsx", ReadOptions(sheet="Items"))


def test_an_empty_sheet_is_a_named_error():
    data = workbook(lambda book: book.add_worksheet("Blank"))

    with pytest.raises(EmptySheet, match="sheet 'Blank' has no cells from row 1 on"):
        parse_bytes(data, "products.xlsx")
    with pytest.raises(EmptySheet, match="no cells from row 9 on"):
        parse_bytes(workbook(products_workbook), "products.xlsx", ReadOptions(header_row=9))


@pytest.mark.parametrize(
    "data",
    [b"this is not a workbook", b"PK\x03\x04" + b"\x00" * 64, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"],
    ids=["text", "broken-zip", "broken-ole"],
)
def test_bytes_that_are_not_a_workbook_are_a_named_error(data):
    with pytest.raises(UnreadableWorkbook, match="cannot be opened as a workbook"):
        parse_bytes(data, "products.xlsx")


def test_a_zip_archive_that_holds_no_workbook_is_a_named_error():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("products.csv", CSV_TWIN)

    with pytest.raises(UnreadableWorkbook):
        parse_bytes(buffer.getvalue(), "products.zip")


def test_a_header_naming_a_column_twice_is_refused():
    def build(book):
        sheet = book.add_worksheet("Products")
        sheet.write_row(0, 0, ["product_id", "name", "Name"])
        sheet.write_row(1, 0, ["P-1", "a", "b"])

    with pytest.raises(DuplicateColumns, match="'name' and 'Name'"):
        parse_bytes(workbook(build), "products.xlsx")


def test_a_profile_names_the_sheet_header_row_and_serial_dates(tmp_path):
    path = tmp_path / "catalogue.yaml"
    path.write_text(
        "files: [catalogue*.xlsx]\n"
        "read: {format: excel, sheet: Products, header_row: 3, excel_dates: true}\n"
    )
    loaded = load_profile_file(path)

    assert (loaded.read.sheet, loaded.read.header_row) == ("Products", 3)
    assert loaded.cast.excel_dates
    path.write_text("files: [x.xlsx]\nread: {header_row: 0}\n")
    with pytest.raises(ProfileError, match="header_row is a sheet row number"):
        load_profile_file(path)
