"""The benchmark's generator: the same spec gives the same bytes in every format, the
foreign keys hold, and its dirty drops (invalid, older duplicate and repeated rows) load
through import_pipeline to exactly the rows and held rows the generator promises."""

from pathlib import Path

import polars as pl
import pytest

from bench.generate import FORMATS, DropSpec, generate
from bench.run import run_bench


@pytest.mark.parametrize("file_format", FORMATS)
def test_equal_specs_give_byte_identical_drops(tmp_path: Path, file_format: str) -> None:
    spec = DropSpec(orders=300, format=file_format, dirty=True)
    first = generate(tmp_path / "first", spec)
    second = generate(tmp_path / "second", spec)

    assert first.rows == second.rows
    for entity, path in first.files.items():
        assert path.name.endswith(file_format)
        assert path.read_bytes() == second.files[entity].read_bytes(), entity
        if file_format == "csv.gz":
            assert path.read_bytes()[4:8] == bytes(4), "a gzip header carries no time"


def test_a_clean_drop_has_its_sizes_and_consistent_foreign_keys(tmp_path: Path) -> None:
    drop = generate(tmp_path, DropSpec(orders=1_000))
    frames = {e: pl.read_csv(p, infer_schema=False) for e, p in drop.csv_files.items()}
    customers, products = frames["customers"], frames["products"]
    orders, items = frames["orders"], frames["line_items"]

    assert (customers.height, orders.height) == (200, 1_000)
    assert drop.rows == {e: f.height for e, f in frames.items()}
    assert drop.expected == drop.rows
    assert sum(drop.held.values()) == 0
    assert orders["customer_id"].is_in(customers["customer_id"].implode()).all()
    assert items["order_id"].is_in(orders["order_id"].implode()).all()
    assert items["product_id"].is_in(products["product_id"].implode()).all()
    lines = items.group_by("order_id").len()["len"]
    assert lines.min() >= 1 and lines.max() <= 5
    assert all(f[f.columns[0]].is_unique().all() for f in frames.values())


@pytest.mark.postgres
@pytest.mark.parametrize("file_format", ["csv.gz", "parquet"])
def test_a_dirty_drop_loads_what_the_generator_expects(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file_format: str
) -> None:
    for name in ("IMPORT_LANDING_URL", "IMPORT_STAGING_URL"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("DATABASE_URL", server_url)
    argv = ["--orders", "2000", "--format", file_format, "--dirty", "--only", "ours"]
    argv += ["--work", str(tmp_path), "--results", str(tmp_path / "R.md"), "--in-process"]

    bench = run_bench(argv)

    drop = bench.drop
    assert drop.total_rows > sum(drop.expected.values()) + sum(drop.held.values())
    assert drop.held["orders"] > 0
    assert bench.counts == {**drop.expected, "held": sum(drop.held.values())}
    assert [row.loader for row in bench.rows] == [
        f"import_pipeline ({p})" for p in ("fresh", "unchanged", "10% changed")
    ]
