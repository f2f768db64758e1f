"""One file larger than the staging step could hold whole: `python -m bench.large_file --gb 5`.

Generates a canonical customers CSV of about `--gb` gigabytes (rows of ~500 bytes: the
customer fields plus a free-text `notes` column the pipeline keeps as JSONB attributes),
lands it alone in a fresh landing folder and loads it through Dagster (sensor tick ->
run -> all assets) on a fresh database, in this process. Prints wall time, rows/s and the
process's peak RSS (ru_maxrss), the figure the memory target is about. The file is
written in blocks, so generating it needs no more memory than loading it should.
"""

import argparse
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from bench import databases

REPO = Path(__file__).resolve().parents[1]
BLOCK_ROWS = 200_000
NOTE_WORDS = 60


def generate(path: Path, gigabytes: float) -> int:
    """Write the file (kept between runs when its size matches); return its data rows."""
    target = int(gigabytes * 1e9)
    rows_file = path.with_suffix(".rows")
    if path.is_file() and rows_file.is_file() and path.stat().st_size >= target:
        return int(rows_file.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with path.open("wb") as out:
        while out.tell() < target:
            block = _block(rows)
            block.write_csv(out, include_header=rows == 0)
            rows += block.height
    rows_file.write_text(str(rows))
    return rows


def _block(start: int) -> pl.DataFrame:
    n = pl.int_range(start, start + BLOCK_ROWS, eager=True)
    words = " ".join(f"word{i}" for i in range(NOTE_WORDS))
    return pl.DataFrame({"n": n}).select(
        pl.format("C{}", pl.col("n").cast(pl.String).str.zfill(10)).alias("customer_id"),
        pl.format("customer{}@example.com", pl.col("n")).alias("email"),
        pl.format("First{}", pl.col("n") % 1000).alias("first_name"),
        pl.format("Last{}", pl.col("n") % 5000).alias("last_name"),
        pl.format("+1 555 {}", pl.col("n") % 10_000_000).alias("phone"),
        pl.lit("US").alias("country"),
        pl.lit("2024-01-01T00:00:00+00:00").alias("created_at"),
        pl.lit("2024-06-01T00:00:00+00:00").alias("updated_at"),
        pl.format("{} {}", pl.lit(words), pl.col("n")).alias("notes"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=5.0, help="size of the CSV")
    parser.add_argument("--work", default=str(REPO / "bench" / "out"))
    parser.add_argument("--chunk-rows", type=int, default=None)
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = Path(args.work).resolve()
    source = work / "drops" / f"large-{args.gb:g}gb" / "customers_large.csv"
    started = time.monotonic()
    if args.generate_only:
        generate(source, args.gb)
        return
    # generated in a child process, so this process's peak RSS is the load's alone
    command = [sys.executable, "-m", "bench.large_file", *sys.argv[1:], "--generate-only"]
    subprocess.run(command, check=True, cwd=REPO)
    rows = int(source.with_suffix(".rows").read_text())
    size = source.stat().st_size
    print(
        f"file: {source} ({size / 1e9:.2f} GB, {rows:,} rows; {time.monotonic() - started:.0f} s)"
    )
    server = databases.server_url(work)
    dsn = databases.fresh_database(server, "large")
    scratch = work / "large"
    shutil.rmtree(scratch, ignore_errors=True)
    landing = scratch / "landing"
    landing.mkdir(parents=True)
    (landing / source.name).hardlink_to(source)
    from bench import pipeline

    try:
        before = time.monotonic()
        settings = {"chunk_rows": args.chunk_rows} if args.chunk_rows else {}
        outcome = pipeline.load(dsn, landing, scratch / "staging", settings, rows)
        wall = time.monotonic() - before - outcome.setup_s
        counts = databases.table_counts(dsn)
    finally:
        databases.drop_database(server, dsn)
        shutil.rmtree(scratch, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"loaded: {counts.get('customers', 0):,} customers; {'; '.join(outcome.notes)}")
    print(f"wall {wall:.1f} s, {rows / wall:,.0f} rows/s, {size / 1e6 / wall:.0f} MB/s")
    print(f"peak RSS {peak:,.0f} MB (this process: Dagster, staging and loading)")
    for phase, seconds in outcome.phases.items():
        print(f"  {phase}: {seconds:.1f} s")


if __name__ == "__main__":
    main()
