"""Parsing: every supported container and text quirk reads as text columns plus `_row`."""

import gzip
import io

import polars as pl
import pytest
import zstandard
from polars.testing import assert_frame_equal

from import_pipeline.core.errors import (
    DuplicateColumns,
    EmptyFile,
    ReservedColumns,
    UndecodableFile,
    UnreadableFile,
)
from import_pipeline.core.parse import (
    PARQUET_FIRST_ROWS,
    ReadOptions,
    parse_bytes,
    read_blocks,
    read_bytes,
)


def read_frames(path, file_name, workdir, block_bytes=None):
    """The rows of each block (these files have no broken records)."""
    blocks = list(read_blocks(path, file_name, workdir, block_bytes=block_bytes))
    assert all(b.broken.is_empty() for b in blocks)
    return [b.rows for b in blocks]


EXPECTED = pl.DataFrame(
    {"_row": [1, 2], "customer_id": ["C1", "C2"], "email": ["a@b.co", "multi\nline"]}
)
CSV = b'customer_id,email\nC1,a@b.co\nC2,"multi\nline"\n'


@pytest.mark.parametrize(
    "data",
    [
        CSV,
        CSV.replace(b"\n", b"\r\n"),
        CSV.replace(b"\n", b"\r"),
        b"\xef\xbb\xbf" + CSV,
        gzip.compress(CSV),
        zstandard.ZstdCompressor().compress(CSV),
    ],
    ids=["lf", "crlf", "cr-only", "bom", "gzip", "zstd"],
)
def test_it_reads_csv_whatever_the_line_endings_bom_or_compression(data):
    frame = parse_bytes(data, "customers.csv")
    # NOTE: a line break inside a quoted field keeps the file's own line ending.
    frame = frame.with_columns(pl.col("email").str.replace_all("\r\n?", "\n"))
    assert_frame_equal(frame, EXPECTED, check_dtypes=False)


def test_it_uses_the_profile_delimiter_and_tab_for_tsv():
    semicolons = parse_bytes(b"customer_id;email\nC1;a@b.co\n", "x.csv", ReadOptions(delimiter=";"))
    tabs = parse_bytes(b"customer_id\temail\nC1\ta@b.co\n", "customers.tsv")
    assert semicolons.columns == tabs.columns == ["_row", "customer_id", "email"]


def test_it_reads_every_value_as_text_so_one_bad_value_cannot_fail_the_file():
    frame = parse_bytes(b"quantity\n1\nabc\n2.5\n", "line_items.csv")
    assert frame.schema["quantity"] == pl.String
    assert frame["quantity"].to_list() == ["1", "abc", "2.5"]


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["plain", "bom"])
def test_it_reads_ndjson_and_parquet_as_text(bom):
    ndjson = b'{"customer_id": "C1", "n": 1, "tags": ["a"]}\n{"customer_id": "C2", "n": null}\n'
    frame = parse_bytes(bom + ndjson, "customers.ndjson")
    assert frame["customer_id"].to_list() == ["C1", "C2"]
    assert frame["n"].to_list() == ["1", None]
    assert frame["tags"].to_list() == ['["a"]', None]
    buffer = io.BytesIO()
    pl.DataFrame({"customer_id": ["C1"], "n": [3]}).write_parquet(buffer)
    parquet = parse_bytes(gzip.compress(buffer.getvalue()), "customers.parquet.gz")
    assert parquet.select("customer_id", "n").row(0) == ("C1", "3")


def test_a_cut_off_last_record_is_a_broken_record_not_a_padded_row():
    read = read_bytes(b"a,b,c\n1,2,3\n4,5", "x.csv")
    assert read.rows.rows() == [(1, "1", "2", "3")]
    assert read.broken.rows() == [(2, "4,5", "expected 3 fields, got 2")]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", EmptyFile),
        (b"  \n", EmptyFile),
        (b"customer_id\n", EmptyFile),
        (b"customer_id\nRen\xe9\n", UndecodableFile),
        (b"\x1f\x8b\x08\x00broken", UnreadableFile),
    ],
)
def test_file_level_problems_raise_a_named_error_that_names_the_file(data, error):
    with pytest.raises(error, match="customers_x.csv"):
        parse_bytes(data, "customers_x.csv")


def test_a_declared_legacy_encoding_is_transcoded():
    frame = parse_bytes(b"name\nRen\xe9\n", "x.csv", ReadOptions(encoding="cp1252"))
    assert frame["name"].to_list() == ["René"]


QUOTED = (
    b'customer_id,email,notes\nC1,a@b.co,"multi\nline, with ""quotes""\n"\n'
    b'C2,c@d.co,plain\nC3,e@f.co,"""\n"""\nC4,g@h.co,"x\n\ny"\n'
)


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["plain", "bom"])
@pytest.mark.parametrize("block_bytes", [1, 7, 20, 33, 64, 1 << 20])
def test_a_file_read_in_blocks_cuts_only_between_records(tmp_path, block_bytes, bom):
    path = tmp_path / "customers.csv"
    path.write_bytes(bom + QUOTED)
    frames = list(read_frames(path, path.name, tmp_path, block_bytes=block_bytes))
    assert_frame_equal(pl.concat(frames), parse_bytes(QUOTED, path.name))
    assert pl.concat(frames)["_row"].to_list() == [1, 2, 3, 4]
    assert list(tmp_path.iterdir()) == [path], "the file is read in place, not copied"


def test_a_parquet_file_of_wide_rows_is_read_in_slices_of_about_block_bytes(tmp_path):
    path = tmp_path / "customers.parquet"
    ids = [f"C{i}" for i in range(3_000)]
    wide = pl.DataFrame({"customer_id": ids, "notes": [f"{i:x>1000}" for i in ids]})
    wide.write_parquet(path, row_group_size=500)
    block_bytes = 100_000

    frames = list(read_frames(path, path.name, tmp_path, block_bytes=block_bytes))

    assert pl.concat(frames)["_row"].to_list() == list(range(1, 3_001))
    assert pl.concat(frames).drop("_row").equals(wide)
    assert frames[0].height == PARQUET_FIRST_ROWS, "the first slice measures the rows"
    assert max(f.estimated_size() for f in frames[1:]) <= 2 * block_bytes
    assert len(frames) > 10


def test_a_quote_that_never_closes_fails_the_file_instead_of_reading_it_all(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes(b'customer_id,notes\nC1,"open\n' + b"C2,more\n" * 200_000)
    with pytest.raises(UnreadableFile, match="customers.csv: a record runs over"):
        list(read_frames(path, path.name, tmp_path, block_bytes=64 << 10))


RAGGED = (
    b"customer_id,first_name,last_name,country\nC1,Ada,Lovelace,UK\nX1,Smith, Jr.,John,UK\n"
    b'C2,"Grace, Jr.",Hopper,US\nC3,Alan\n\nC4,"multi\nline",,\n'
)


@pytest.mark.parametrize("block_bytes", [None, 1, 30, 64])
def test_a_record_with_more_or_fewer_fields_than_the_header_is_broken_never_cut_or_padded(
    tmp_path, block_bytes
):
    path = tmp_path / "customers.csv"
    path.write_bytes(RAGGED)
    blocks = list(read_blocks(path, path.name, tmp_path, block_bytes=block_bytes))
    rows = pl.concat(b.rows for b in blocks)
    broken = pl.concat(b.broken for b in blocks)
    assert rows["_row"].to_list() == [1, 3, 5, 6]
    assert rows.filter(pl.col("_row") == 3).row(0) == (3, "C2", "Grace, Jr.", "Hopper", "US")
    assert rows.filter(pl.col("_row") == 6).row(0) == (6, "C4", "multi\nline", "", "")
    assert broken.rows() == [
        (2, "X1,Smith, Jr.,John,UK", "expected 4 fields, got 5"),
        (4, "C3,Alan", "expected 4 fields, got 2"),
    ]


def test_a_profile_may_let_short_records_through_padded_but_never_long_ones():
    options = ReadOptions(pad_short_rows=True)
    read = read_bytes(b"a,b,c\n1,2\n3,4,5,6\n", "x.csv", options)
    assert read.rows.rows() == [(1, "1", "2", "")]
    assert read.broken.rows() == [(2, "3,4,5,6", "expected 3 fields, got 4")]


@pytest.mark.parametrize(
    ("header", "error", "message"),
    [
        (b"id,email,Email", DuplicateColumns, "'email' and 'Email'"),
        (b"id,_row", ReservedColumns, "_row"),
        (b"id,_errors,_source", ReservedColumns, "_errors, _source"),
    ],
)
def test_a_header_with_a_duplicate_or_bookkeeping_name_is_a_named_error(header, error, message):
    with pytest.raises(error, match=message):
        parse_bytes(header + b"\n1,2,3\n", "customers_x.csv")


def test_an_ndjson_column_named_like_a_bookkeeping_column_is_a_named_error():
    with pytest.raises(ReservedColumns, match="_row"):
        parse_bytes(b'{"customer_id": "C1", "_row": 9}\n', "customers.ndjson")


@pytest.mark.parametrize("block_bytes", [None, 40])
def test_an_ndjson_line_that_does_not_parse_is_named_by_its_line_number(tmp_path, block_bytes):
    path = tmp_path / "customers.ndjson"
    good = b'{"customer_id": "C1"}\n'
    path.write_bytes(good * 3 + b'{"customer_id": "C4",\n' + good)
    with pytest.raises(UnreadableFile, match="customers.ndjson: line 4 is not JSON"):
        list(read_blocks(path, path.name, tmp_path, block_bytes=block_bytes))


def test_blank_lines_before_the_header_are_passed_over_and_blank_rows_are_not_broken():
    read = read_bytes(b"\n\r\ncustomer_id,email\nC1,a@b.co\n\nC2,c@d.co\n", "customers.csv")
    assert read.rows.rows() == [(1, "C1", "a@b.co"), (2, "", ""), (3, "C2", "c@d.co")]
    assert read.broken.is_empty()
