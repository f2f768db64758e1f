"""How fast a purge deletes a tenant and how long a reader waits meanwhile:
`python -m bench.purge`.

Tenant A gets `--rows` rows over the four tables (customers 20 %, products 10 %, orders
30 %, line items 40 %), written by SQL; tenant B a tenth of that. The purge of A runs twice,
each in a fresh database, while `bench.reader.Reader` reads every table with a 20 ms
lock_timeout: once with B beside A (chunked deletes), once with A alone (TRUNCATE).
Prints rows/s, the reader's queries, lock timeouts and its longest wait.

    .venv/bin/python -m bench.purge [--rows 500000] [--chunk-rows 5000]
"""

import argparse
import time
from pathlib import Path

from bench import databases
from bench.reader import LOCK_TIMEOUT_MS, Reader
from bench.run import REPO
from import_pipeline.core.purge import plan_purge
from import_pipeline.db import purge
from import_pipeline.db.connect import connected

FILL = """
INSERT INTO commerce.customers (tenant, customer_id, email, updated_at, _batch)
SELECT %(tenant)s, 'C' || lpad(i::text, 9, '0'), 'c' || i || '@example.com', now(), 'bench'
FROM generate_series(1, %(customers)s) i;
INSERT INTO commerce.products (tenant, product_id, sku, name, price, updated_at, _batch)
SELECT %(tenant)s, 'P' || lpad(i::text, 9, '0'), 'S' || i, 'product ' || i, 9.5, now(), 'bench'
FROM generate_series(1, %(products)s) i;
INSERT INTO commerce.orders (tenant, order_id, customer_id, status, ordered_at, updated_at, _batch)
SELECT %(tenant)s, 'O' || lpad(i::text, 9, '0'),
       'C' || lpad((1 + i %% %(customers)s)::text, 9, '0'), 'paid', now(), now(), 'bench'
FROM generate_series(1, %(orders)s) i;
INSERT INTO commerce.line_items
    (tenant, line_item_id, order_id, product_id, quantity, unit_price, updated_at, _batch)
SELECT %(tenant)s, 'L' || lpad(i::text, 9, '0'),
       'O' || lpad((1 + i %% %(orders)s)::text, 9, '0'),
       'P' || lpad((1 + i %% %(products)s)::text, 9, '0'), 1, 9.5, now(), 'bench'
FROM generate_series(1, %(lines)s) i;
ANALYZE;
"""


def fill(dsn: str, tenant: str, rows: int) -> None:
    sizes = {
        "tenant": tenant,
        "customers": rows // 5,
        "products": rows // 10,
        "orders": rows * 3 // 10,
        "lines": rows - rows // 5 - rows // 10 - rows * 3 // 10,
    }
    with connected(dsn) as conn, conn, conn.cursor() as cur:
        cur.execute(FILL, sizes)


def measure(server: str, label: str, rows: int, beside: bool, chunk_rows: int) -> dict:
    dsn = databases.fresh_database(server, "purge")
    try:
        fill(dsn, "A", rows)
        if beside:
            fill(dsn, "B", rows // 10)
        reader = Reader(dsn)
        reader.start()
        time.sleep(0.5)
        with connected(dsn) as conn:
            started = time.monotonic()
            counts = purge.purge(conn, plan_purge("A", "A", []), chunk_rows, lock_wait_ms=200)
            seconds = time.monotonic() - started
        time.sleep(0.5)
        reading = reader.stop()
    finally:
        databases.drop_database(server, dsn)
    return {
        "case": label,
        "rows": rows,
        "seconds": seconds,
        "rows/s": rows / seconds,
        "truncated": ", ".join(counts.truncated) or "none",
        "reader queries": reading.queries,
        "lock timeouts": len(reading.timeouts),
        "longest read ms": reading.longest_ms,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.purge", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--chunk-rows", type=int, default=5000)
    parser.add_argument("--work", default=str(REPO / "bench" / "out"))
    args = parser.parse_args(argv)
    server = databases.server_url(Path(args.work).resolve())
    results = [
        measure(server, "chunked (B beside A)", args.rows, True, args.chunk_rows),
        measure(server, "truncate (A alone)", args.rows, False, args.chunk_rows),
    ]
    print(
        f"| case | rows of A | seconds | rows/s | truncated | reader queries "
        f"| lock timeouts ({LOCK_TIMEOUT_MS} ms) | longest read |"
    )
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['case']} | {r['rows']:,} | {r['seconds']:.2f} | {r['rows/s']:,.0f} "
            f"| {r['truncated']} | {r['reader queries']:,} | {r['lock timeouts']} "
            f"| {r['longest read ms']:.0f} ms |"
        )


if __name__ == "__main__":
    main()
