"""What a second connection gives one entity's load: `python -m bench.connections`.

The line items' load is where the foreign-key checks dominate, and where the fresh load
leans on two connections. This loads them four ways, in rounds, each into a fresh
database that holds their parents already (raw COPY, untimed): raw COPY of the file on
one connection, and of its two halves on two; `load_chunks` of the staged rows on
one connection, and on two. It prints each one's wall time and the CPU its Postgres
backends used (psutil), which tells backends that wait on each other (wall up, CPU flat)
from backends that burn more CPU per row (both up).

    .venv/bin/python -m bench.connections [--orders 100000] [--rounds 2]
"""

import argparse
import io
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import psutil
from psycopg2.extensions import connection

from bench import databases
from bench.baselines import prepare_raw_copy
from bench.databases import backend_cpu, copy_file, copy_statement
from bench.generate import DropSpec
from bench.run import REPO, drop_for
from import_pipeline.core.columns import BATCH
from import_pipeline.core.entities import LINE_ITEMS
from import_pipeline.core.landing import DEFAULT_TENANT
from import_pipeline.core.profiles import CANONICAL
from import_pipeline.core.stage import LandedFile
from import_pipeline.core.stage_local import stage_files
from import_pipeline.db.connect import connected
from import_pipeline.db.loader import load_chunks

PARENTS = ("customers", "products", "orders")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.connections", description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--chunk-rows", type=int, default=50_000, help="load_entity's chunks")
    parser.add_argument("--work", default=str(REPO / "bench" / "out"))
    args = parser.parse_args(argv)
    work = Path(args.work).resolve()
    drop = drop_for(work, DropSpec(orders=args.orders))
    server = databases.server_url(work)
    source = drop.csv_files[LINE_ITEMS.name]
    header = source.open().readline().strip()
    body = source.read_bytes().split(b"\n", 1)[1]
    half = body.index(b"\n", len(body) // 2) + 1
    staged = _staged_line_items(source)
    ways: dict[str, Callable[[list[connection]], None]] = {
        "raw COPY, 1 connection": lambda conns: _copy(conns, header, [body]),
        "raw COPY, 2 connections": lambda conns: _copy(conns, header, [body[:half], body[half:]]),
        "load_entity, 1 connection": lambda conns: _load(conns, staged, args.chunk_rows),
        "load_entity, 2 connections": lambda conns: _load(conns, staged, args.chunk_rows),
    }
    print(f"{staged.height:,} line items, {args.orders:,} orders; {args.rounds} rounds")
    for _ in range(args.rounds):
        for name, way in ways.items():
            wall, cpu = _measure(server, drop.csv_files, name.endswith("2 connections"), way)
            print(f"{name:27} wall {wall:5.2f} s   backend CPU {' + '.join(cpu)} s")


def _staged_line_items(source: Path) -> pl.DataFrame:
    """The line items as the load gets them: validated, deduped, in key order."""
    landed = [LandedFile(source.name, source)]
    with stage_files(landed, source.name, datetime.now(UTC), CANONICAL) as (_, frames):
        return frames[LINE_ITEMS.name].with_columns(pl.lit("bench-connections").alias(BATCH))


def _measure(
    server: str, files: dict[str, Path], two: bool, way: Callable[[list[connection]], None]
) -> tuple[float, list[str]]:
    """Wall seconds of `way` and each of its backends' CPU seconds, on a fresh database."""
    dsn = databases.fresh_database(server, "connections")
    try:
        _load_parents(dsn, files)
        with connected(dsn) as first, connected(dsn) as second:
            conns = [first, second] if two else [first]
            backends = [psutil.Process(conn.get_backend_pid()) for conn in conns]
            before = [backend_cpu(backend) for backend in backends]
            started = time.monotonic()
            way(conns)
            wall = time.monotonic() - started
            used = [backend_cpu(backend) - b for backend, b in zip(backends, before, strict=True)]
    finally:
        databases.drop_database(server, dsn)
    return wall, [f"{seconds:.2f}" for seconds in used]


def _load_parents(dsn: str, files: dict[str, Path]) -> None:
    prepare_raw_copy(dsn)
    with connected(dsn) as conn:
        for entity in PARENTS:
            copy_file(conn, entity, files[entity])
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
            cur.execute("CHECKPOINT")


def _copy(conns: list[connection], header: str, parts: list[bytes]) -> None:
    """Each part COPYed on a connection of its own, in one transaction, side by side."""

    def copy(conn: connection, part: bytes) -> None:
        with conn, conn.cursor() as cur:
            statement = copy_statement(LINE_ITEMS.name, header).as_string(cur)
            cur.copy_expert(statement, io.BytesIO(part), size=1 << 20)

    with ThreadPoolExecutor(len(parts)) as pool:
        list(pool.map(copy, conns, parts))


def _load(conns: list[connection], staged: pl.DataFrame, chunk_rows: int) -> None:
    chunks = (staged.slice(offset, chunk_rows) for offset in range(0, staged.height, chunk_rows))
    load_chunks(conns[0], LINE_ITEMS, chunks, DEFAULT_TENANT, more_connections=conns[1:])


if __name__ == "__main__":
    main()
