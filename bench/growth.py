"""Why a 1M-order load costs more than 10x a 100k one: `python -m bench.growth`.

For each drop size, on a fresh database: the customers and products by raw COPY, then the
orders COPYed in 50k-row chunks on one connection, in key order or each chunk sorted by
customer (as `Chunk.for_target` writes them), then the line items in one COPY. For the
orders and the line items it prints the wall time, the backend's CPU per row (psutil),
and the WAL, full-page images and checkpoints the server counted meanwhile: CPU that
grows per row with the tables, with linear WAL and no checkpoint, is the database's
B-trees outgrowing the CPU's caches, not I/O. For the orders it also prints what their
order costs a re-load: the size of their primary key (rows out of key order split its
pages in halves) and the time of the re-load's key-range reads (`range_summary`, one per
chunk), which visit the table's pages out of order when its rows are.

Needs PostgreSQL 17 or later (`pg_stat_checkpointer`).

    .venv/bin/python -m bench.growth [--sizes 100000,1000000] [--rounds 2]
"""

import argparse
import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import psutil
from psycopg2.extensions import connection

from bench import databases
from bench.baselines import prepare_raw_copy
from bench.databases import backend_cpu, copy_file, copy_statement
from bench.generate import Drop, DropSpec
from bench.run import REPO, drop_for
from import_pipeline.core.entities import ORDERS
from import_pipeline.core.landing import DEFAULT_TENANT
from import_pipeline.db.connect import connected
from import_pipeline.db.sql import WEIGHT_MASK, range_summary

CHUNK_ROWS = 50_000
ORDERS_BY = {"key order": None, "customer order": "customer_id"}

_Chunk = tuple[str, bytes, tuple[str, str]]
"""An orders chunk as COPYed: the header line, the CSV body and its key range."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.growth", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="orders per drop")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--work", default=str(REPO / "bench" / "out"))
    args = parser.parse_args(argv)
    work = Path(args.work).resolve()
    server = databases.server_url(work)
    for orders in (int(size) for size in args.sizes.split(",")):
        drop = drop_for(work, DropSpec(orders=orders))
        frame = pl.read_csv(drop.csv_files["orders"], infer_schema=False)
        chunks = {name: _chunks(frame, by) for name, by in ORDERS_BY.items()}
        for _ in range(args.rounds):
            for name, bodies in chunks.items():
                _measure(server, drop, name, bodies)


def _measure(server: str, drop: Drop, name: str, bodies: list[_Chunk]) -> None:
    dsn = databases.fresh_database(server, "growth")
    files, orders = drop.csv_files, drop.spec.orders
    try:
        prepare_raw_copy(dsn)
        with connected(dsn) as conn, connected(server) as admin:
            admin.autocommit = True
            for entity in ("customers", "products"):
                copy_file(conn, entity, files[entity])
            databases.checkpoint(server)
            with _counted(conn, admin, f"{orders:>9,} orders in {name:14}", drop.rows["orders"]):
                for header, body, _ in bodies:
                    _copy(conn, "orders", header, body)
            _reread(conn, [key_range for _, _, key_range in bodies])
            databases.checkpoint(server)
            items = drop.rows["line_items"]
            with _counted(conn, admin, f"{orders:>9,} line items after {name:8}", items):
                copy_file(conn, "line_items", files["line_items"])
    finally:
        databases.drop_database(server, dsn)


def _chunks(frame: pl.DataFrame, by: str | None) -> list[_Chunk]:
    """The orders' 50k-row chunks, encoded once for every round: header, CSV body and key
    range of each."""
    header = ",".join(frame.columns)
    parts = [frame.slice(offset, CHUNK_ROWS) for offset in range(0, frame.height, CHUNK_ROWS)]
    if by:
        parts = [part.sort(by, nulls_last=True, maintain_order=True) for part in parts]
    keys = [part.get_column(ORDERS.key) for part in parts]
    return [
        (header, part.write_csv(include_header=False).encode(), (key.min(), key.max()))
        for part, key in zip(parts, keys, strict=True)
    ]


def _reread(conn: connection, key_ranges: list[tuple[str, str]]) -> None:
    """The orders' primary-key size, and one `range_summary` per chunk, as a re-load asks."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_relation_size('commerce.orders_pkey')")
        size = cur.fetchone()[0]
        started = time.monotonic()
        for lo, hi in key_ranges:
            params = {"tenant": DEFAULT_TENANT, "lo": lo, "hi": hi, "rows": CHUNK_ROWS}
            cur.execute(range_summary(ORDERS), {**params, "mask": WEIGHT_MASK})
            cur.fetchone()
        reads = time.monotonic() - started
    print(f"{'':>9}   primary key {size / 1e6:5.1f} MB, range reads {reads:5.2f} s", flush=True)


def _copy(conn: connection, entity: str, header: str, body: bytes) -> None:
    with conn, conn.cursor() as cur:
        statement = copy_statement(entity, header).as_string(cur)
        cur.copy_expert(statement, io.BytesIO(body), size=1 << 20)


@contextmanager
def _counted(conn: connection, admin: connection, label: str, rows: int) -> Iterator[None]:
    backend = psutil.Process(conn.get_backend_pid())
    before, cpu, started = _server_counts(conn, admin), backend_cpu(backend), time.monotonic()
    yield
    wall, cpu = time.monotonic() - started, backend_cpu(backend) - cpu
    after = _server_counts(conn, admin)
    wal, fpi, checkpoints = (a - b for a, b in zip(after, before, strict=True))
    print(
        f"{label} wall {wall:6.2f} s  CPU {cpu / rows * 1e6:5.2f} us/row  "
        f"WAL {wal / 1e6:6.0f} MB  full pages {fpi:7,}  checkpoints {checkpoints}",
        flush=True,
    )


def _server_counts(conn: connection, admin: connection) -> tuple[int, int, int]:
    """WAL bytes and full-page images written, and checkpoints begun, since the server's
    statistics were reset. The loading backend reports its WAL at most once a second
    unless told to flush now: its last transaction's WAL would count for the next one."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_stat_force_next_flush()")
    with admin.cursor() as cur:
        cur.execute(
            "SELECT w.wal_bytes::bigint, w.wal_fpi, c.num_timed + c.num_requested"
            "  FROM pg_stat_wal w, pg_stat_checkpointer c"
        )
        return cur.fetchone()


if __name__ == "__main__":
    main()
