"""Staging in bounded memory: files read in batches of rows, entities deduped per key range,
with the same result as staging everything at once."""

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from import_pipeline.core.columns import SOURCE
from import_pipeline.core.profiles import CANONICAL
from import_pipeline.core.stage import LandedFile, read_batch

T0 = datetime(2024, 6, 1, tzinfo=UTC)


def customers_csv(rows: list[tuple[str, str, int]]) -> bytes:
    """(key, email, day of June 2024) rows as a canonical customers file."""
    lines = ["customer_id,email,updated_at"]
    lines += [f"{key},{email},2024-06-{day:02}" for key, email, day in rows]
    return ("\n".join(lines) + "\n").encode()


def stage(tmp_path: Path, files: dict[str, bytes], block_bytes: int, range_rows: int):
    """Both passes with the given sizes; returns the batch and each entity's written frames."""
    work = tmp_path / f"work-{block_bytes}-{range_rows}"
    work.mkdir()
    landed = []
    for name, data in files.items():
        (work / name).write_bytes(data)
        landed.append(LandedFile(name, work / name))
    read = read_batch(landed, "drop", T0, CANONICAL, work, block_bytes=block_bytes)
    rejects = read.rejects().collect()
    written: dict[str, list[pl.DataFrame]] = {}
    staged = read.deduped(lambda e, rows: written.setdefault(e, []).append(rows), range_rows)
    return staged, written, rejects


def test_small_batches_and_key_ranges_stage_the_same_rows_as_one_go(tmp_path):
    rows = [(f"C{i % 37:03}", f"c{i}@x.io", 1 + i % 28) for i in range(400)]
    rows[5] = ("C005", "broken", 3)
    files = {
        "customers_a.csv": customers_csv(rows[:250]),
        "customers_b.csv": customers_csv(rows[250:]),
    }
    whole, whole_rows, whole_rejects = stage(
        tmp_path, files, block_bytes=1 << 20, range_rows=10_000
    )
    split, split_rows, split_rejects = stage(tmp_path, files, block_bytes=300, range_rows=50)

    assert len(whole_rows["customers"]) == 1
    assert len(split_rows["customers"]) > 3
    ranges = split_rows["customers"]
    for before, after in zip(ranges, ranges[1:], strict=False):
        assert before["customer_id"].max() < after["customer_id"].min()
    assert pl.concat(ranges).equals(whole_rows["customers"][0])
    assert split.entities["customers"].report == whole.entities["customers"].report
    assert split.rows_staged == whole.rows_staged == 37
    assert split_rejects.equals(whole_rejects)
    assert split_rejects.select("_row", SOURCE).rows() == [(6, "customers_a.csv:6")]


def test_an_entity_without_rows_still_gets_its_typed_columns(tmp_path):
    _, written, _ = stage(tmp_path, {"customers.csv": customers_csv([("C1", "a@x.io", 1)])}, 10, 10)
    (orders,) = written["orders"]
    assert orders.height == 0 and orders.schema["updated_at"] == pl.Datetime("us", "UTC")


@settings(max_examples=25, deadline=None)
@given(
    versions=st.lists(st.tuples(st.integers(0, 30), st.integers(1, 28)), min_size=1, max_size=120),
    block_bytes=st.integers(1, 600),
    range_rows=st.integers(1, 60),
)
def test_newest_version_wins_whatever_the_batch_and_range_sizes(
    tmp_path_factory, versions, block_bytes, range_rows
):
    rows = [(f"K{key:02}", f"v{i}@x.io", day) for i, (key, day) in enumerate(versions)]
    expected: dict[str, tuple[int, int]] = {}
    for i, (key, _, day) in enumerate(rows):
        if key not in expected or day >= expected[key][0]:
            expected[key] = (day, i)
    tmp_path = tmp_path_factory.mktemp("ranges")
    _, written, _ = stage(tmp_path, {"customers.csv": customers_csv(rows)}, block_bytes, range_rows)
    staged = pl.concat(written["customers"])
    assert staged["customer_id"].to_list() == sorted(expected)
    assert staged["email"].to_list() == [f"v{expected[k][1]}@x.io" for k in sorted(expected)]
