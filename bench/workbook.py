"""A large products workbook next to its CSV twin: `python -m bench.workbook --rows 700000`.

Generates one products table (kept in bench/out between runs), written as a CSV and as an
xlsx (numbers as numbers, `updated_at` as date cells, as a spreadsheet export has them).
Each measurement runs in its own child process so that its peak RSS (ru_maxrss) is its
own: `read` parses the file into text blocks as staging does (core/parse.py), `load` lands
it alone and loads it through Dagster (sensor tick -> run -> all assets) on a fresh
database. `--windows` also times fastexcel reading 1,000 rows against the whole sheet, to
show whether reading in row windows would bound memory with the installed version.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from bench import databases

REPO = Path(__file__).resolve().parents[1]
FORMATS = ("csv", "xlsx")
STAGING_BLOCK = 16 << 20


def products(rows: int) -> pl.DataFrame:
    n = pl.int_range(0, rows, eager=True)
    return pl.DataFrame({"n": n}).select(
        pl.format("P{}", pl.col("n").cast(pl.String).str.zfill(9)).alias("product_id"),
        pl.format("SKU-{}", pl.col("n")).alias("sku"),
        pl.format("Product number {} in the catalogue", pl.col("n")).alias("name"),
        pl.format("category {}", pl.col("n") % 40).alias("category"),
        ((pl.col("n") % 10_000) / 100 + 0.99).round(2).alias("price"),
        pl.lit("EUR").alias("currency"),
        (pl.lit(datetime(2024, 1, 1)) + pl.duration(minutes=pl.col("n") % 500_000)).alias(
            "updated_at"
        ),
    )


def generate(folder: Path, rows: int) -> dict[str, Path]:
    """products_<rows>.csv and .xlsx with the same rows (reused when already written)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {f: folder / f"products_{rows}.{f}" for f in FORMATS}
    if all(p.is_file() for p in paths.values()):
        return paths
    frame = products(rows)
    frame.with_columns(pl.col("updated_at").dt.strftime("%Y-%m-%d %H:%M:%S")).write_csv(
        paths["csv"]
    )
    import xlsxwriter

    partial = paths["xlsx"].with_suffix(".partial")
    book = xlsxwriter.Workbook(str(partial), {"constant_memory": True})
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    sheet = book.add_worksheet("Products")
    sheet.write_row(0, 0, frame.columns)
    for row, values in enumerate(frame.iter_rows(), start=1):
        sheet.write_row(row, 0, values[:6])
        sheet.write_datetime(row, 6, values[6], stamp)
    book.close()
    partial.rename(paths["xlsx"])
    return paths


def read(path: Path) -> dict:
    """Parse the file into staging's text blocks and drop them, as staging reads it."""
    from import_pipeline.core.parse import read_blocks

    started = time.monotonic()
    rows = 0
    with tempfile.TemporaryDirectory(prefix="bench-workbook-") as work:
        for block in read_blocks(path, path.name, Path(work), batch_bytes=STAGING_BLOCK):
            rows += block.rows.height
    return {"rows": rows, "wall_s": time.monotonic() - started}


def load(path: Path, work: Path) -> dict:
    """Land the file alone and load it through Dagster on a fresh database."""
    from bench import pipeline

    server = databases.server_url(work)
    dsn = databases.fresh_database(server, "workbook")
    scratch = work / f"workbook-{path.suffix[1:]}"
    shutil.rmtree(scratch, ignore_errors=True)
    landing = scratch / "landing"
    landing.mkdir(parents=True)
    (landing / path.name).hardlink_to(path)
    try:
        before = time.monotonic()
        outcome = pipeline.load(dsn, landing, scratch / "staging", {}, 0)
        wall = time.monotonic() - before - outcome.setup_s
        counts = databases.table_counts(dsn)
    finally:
        databases.drop_database(server, dsn)
        shutil.rmtree(scratch, ignore_errors=True)
    staging = outcome.phases.get("staged_batch", 0.0)
    return {
        "rows": counts.get("products", 0),
        "wall_s": wall,
        "staging_s": staging,
        "notes": outcome.notes,
    }


def windows(path: Path) -> dict:
    """fastexcel's `n_rows`: does reading 1,000 rows cost less than the whole sheet?"""
    import fastexcel

    started = time.monotonic()
    fastexcel.read_excel(path).load_sheet(0, n_rows=1_000, dtypes="string").to_polars()
    window = time.monotonic() - started
    started = time.monotonic()
    fastexcel.read_excel(path).load_sheet(0, dtypes="string").to_polars()
    return {"window_1000_s": window, "whole_s": time.monotonic() - started}


def child(mode: str, path: Path, work: Path) -> None:
    measured = {"read": read, "windows": windows}.get(mode)
    result = measured(path) if measured else load(path, work)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def measure(mode: str, path: Path, work: Path) -> dict:
    command = [sys.executable, "-m", "bench.workbook", "--child", mode, str(path)]
    command += ["--work", str(work)]
    done = subprocess.run(command, check=True, cwd=REPO, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=700_000)
    parser.add_argument("--work", default=str(REPO / "bench" / "out"))
    parser.add_argument("--modes", default="read,load", help="read, load (comma-separated)")
    parser.add_argument("--windows", action="store_true", help="also time a 1,000-row window")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = Path(args.work).resolve()
    if args.child:
        child(args.child[0], Path(args.child[1]), work)
        return
    started = time.monotonic()
    paths = generate(work / "workbook", args.rows)
    print(f"generated in {time.monotonic() - started:.0f} s ({datetime.now(UTC):%Y-%m-%d})")
    print("load average before: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    for file_format, path in paths.items():
        size = path.stat().st_size / 1e6
        for mode in args.modes.split(","):
            result = measure(mode, path, work)
            extra = f", staging {result['staging_s']:.1f} s" if "staging_s" in result else ""
            print(
                f"{file_format:>4} {size:6.1f} MB  {mode:>4}: {result['rows']:,} rows, "
                f"{result['wall_s']:.1f} s{extra}, peak RSS {result['peak_rss_mb']:,.0f} MB"
            )
    print("load average after: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    if args.windows:
        result = measure("windows", paths["xlsx"], work)
        print(
            f"fastexcel n_rows=1000: {result['window_1000_s']:.1f} s, whole sheet "
            f"{result['whole_s']:.1f} s (peak RSS {result['peak_rss_mb']:,.0f} MB)"
        )


if __name__ == "__main__":
    main()
