"""A rejects CSV read back in: known by its header, cells restored, rows to their entities."""

import io
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from import_pipeline.core.parse import read_bytes
from import_pipeline.core.profiles import CANONICAL
from import_pipeline.core.rejects import rejects_csv
from import_pipeline.core.replay import (
    rejects_delimiter,
    rejects_sources,
    replay_profile,
    unneutralised,
)
from import_pipeline.core.stage import LandedFile
from import_pipeline.core.stage_local import stage_files

REJECTS = pl.DataFrame(
    {
        "customer_id": ["C1", None, None],
        "email": ["=cmd|x", None, None],
        "order_id": [None, "O1", "O2"],
        "status": [None, "-paid", "paid"],
        "ordered_at": [None, "2024-05-01", "2024-05-01"],
        "_source": ["customers.csv:4", "orders.csv:2", "orders.csv:9"],
        "_row": [4, 7, 14],
        "_errors": [["email:format"], ["status:choices"], ["customer_id:parent"]],
    }
)


def test_formula_cells_neutralised_for_a_spreadsheet_are_restored_exactly():
    text = rejects_csv(REJECTS)
    back = pl.read_csv(io.BytesIO(text), infer_schema=False)
    restored = back.select(unneutralised(c) for c in ("email", "status"))
    assert_frame_equal(restored, REJECTS.select("email", "status"))


def test_a_rejects_header_is_recognised_with_commas_or_semicolons_and_others_are_not(
    tmp_path: Path,
):
    comma, semicolon, plain = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    comma.write_bytes(rejects_csv(REJECTS))
    semicolon.write_text("customer_id;email;_row;_errors\nC1;x;1;email:format\n")
    plain.write_text("customer_id,email\nC1,x\n")
    assert [rejects_delimiter(p) for p in (comma, semicolon, plain)] == [",", ";", None]
    assert sorted(rejects_sources(comma, ",")) == [
        "customers.csv:4",
        "orders.csv:2",
        "orders.csv:9",
    ]


def test_each_replayed_row_feeds_the_entity_the_ledger_rejected_it_from(tmp_path: Path):
    path = tmp_path / "rejects_fixed.csv"
    path.write_bytes(rejects_csv(REJECTS))
    # the ledger knows two of the rows; the third goes by the key it fills (an order)
    known = {"customers.csv:4": "customers", "orders.csv:2": "orders"}
    profile = replay_profile(CANONICAL, ",", known)
    landed = datetime(2024, 6, 1, tzinfo=UTC)
    with stage_files([LandedFile(path.name, path)], path.name, landed, profile) as (staged, rows):
        rejected = staged.rejects().collect()
    assert rows["orders"]["order_id"].to_list() == ["O2"]  # its parent check is the DB's
    assert rows["customers"].is_empty()
    # the restored cells break the same rules as before: `=cmd|x` and `-paid`, unquoted
    assert sorted(zip(rejected["email"], rejected["status"], strict=True), key=str) == sorted(
        [("=cmd|x", None), (None, "-paid")], key=str
    )
    assert read_bytes(path.read_bytes(), path.name).rows.columns[:1] == ["_row"]
