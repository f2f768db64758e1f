"""Measure candidate fixes of the upsert statement: `python -m bench.variants --orders 100000`.

Loads customers, products and orders with the package's own `load_entity`, then loads the
line items chunk by chunk (COPY into the stage table as the package does) with several
variants of `upsert_statement`, each from an empty table (fresh) and again over the
loaded table (unchanged re-load). Only the upsert statement is timed. The variants are
text edits of the package's statement, so this measures proposals without changing the
package.
"""

import argparse
import time
from collections import defaultdict
from pathlib import Path

import polars as pl
from psycopg2 import sql

from bench import databases
from bench.generate import DropSpec, generate
from bench.profile_db import stage_all
from import_pipeline.core.columns import BATCH
from import_pipeline.core.entities import ENTITIES
from import_pipeline.core.landing import DEFAULT_TENANT
from import_pipeline.db import upsert
from import_pipeline.db.chunk import prepare
from import_pipeline.db.connect import connected
from import_pipeline.db.loader import load_chunks
from import_pipeline.db.sql import create_stage

REPO = Path(__file__).resolve().parents[1]
SPEC = ENTITIES["line_items"]
STAGE = '"pg_temp"."stage_line_items"'
JOIN = (
    'JOIN "commerce"."line_items" t'
    ' ON t.tenant = %(tenant)s AND t."line_item_id" = s."line_item_id"'
)
KEY_RANGE = (
    f' AND t."line_item_id" BETWEEN (SELECT min("line_item_id") FROM {STAGE})'
    f' AND (SELECT max("line_item_id") FROM {STAGE})'
)


CHANGING = ["order_id", "product_id", "quantity", "unit_price", "line_total", "attributes"]


def classify_once() -> str:
    """The proposal for db/upsert.py: ONE key-ranged LEFT JOIN of the chunk to the target
    classifies every row; the counts come from it, and only rows that are new, or newer
    and different (or a newer version of the same content), reach INSERT .. ON CONFLICT,
    which keeps its WHERE as the guard against concurrent writers."""
    cols = ["line_item_id", *CHANGING[:-1], "updated_at", "attributes"]
    s_cols = ", ".join(f'c."{n}"' for n in cols)
    same = " AND ".join(f'c."{n}" IS NOT DISTINCT FROM c."t_{n}"' for n in CHANGING)
    t_cols = ", ".join(f't."{n}" AS "t_{n}"' for n in [*CHANGING, "updated_at"])
    changing = [*CHANGING[:-1], "updated_at", "attributes"]
    return f"""
        WITH classified AS MATERIALIZED (
            SELECT s.*, t.line_item_id IS NOT NULL AS known, {t_cols}
              FROM {STAGE} s LEFT JOIN "commerce"."line_items" t
                ON t.tenant = %(tenant)s AND t."line_item_id" = s."line_item_id"{KEY_RANGE}
        ), counted AS (
            SELECT count(*) FILTER (WHERE known AND c."updated_at" < c."t_updated_at") AS stale,
                   count(*) FILTER (WHERE known AND c."updated_at" > c."t_updated_at"
                                      AND {same}) AS version_only
              FROM classified c
        ), written AS (
            INSERT INTO "commerce"."line_items" AS t
                   (tenant, {", ".join(f'"{n}"' for n in cols)}, "_batch", _loaded_at)
            SELECT %(tenant)s, {s_cols}, c."_batch", now() FROM classified c
             WHERE NOT known OR (c."updated_at" >= c."t_updated_at"
                                 AND NOT ({same} AND c."updated_at" = c."t_updated_at"))
             ORDER BY c."line_item_id"
            ON CONFLICT (tenant, "line_item_id") DO UPDATE
               SET ({", ".join(f'"{n}"' for n in changing)}, "_batch", _loaded_at)
                 = ROW({", ".join(f'EXCLUDED."{n}"' for n in changing)},
                       EXCLUDED."_batch", EXCLUDED._loaded_at)
             WHERE EXCLUDED."updated_at" >= t."updated_at"
               AND ({", ".join(f't."{n}"' for n in changing)})
                   IS DISTINCT FROM ({", ".join(f'EXCLUDED."{n}"' for n in changing)})
            RETURNING (xmax = 0) AS inserted
        )
        SELECT (SELECT stale FROM counted), (SELECT version_only FROM counted),
               count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
          FROM written
    """


FRESH_ONLY = "(fresh only) "
EXISTING_COUNTS = "SELECT (SELECT stale FROM existing), (SELECT version_only FROM existing),"


def variants(base: str) -> dict[str, tuple[list[str], str]]:
    """name -> (statements run after the COPY, upsert text). Text edits of the package's
    statement are measured only while it still has the shape they edit (the `existing`
    CTE variants refer to the statement before commit 69a82cf)."""
    mem = ["SET LOCAL work_mem = '64MB'"]
    found = {
        "as is": ([], base),
        "work_mem 64MB (sort in memory)": (mem, base),
        "work_mem + ANALYZE stage": ([*mem, f"ANALYZE {STAGE}"], base),
    }
    if JOIN in base:
        found["work_mem + key range on `existing`"] = (mem, base.replace(JOIN, JOIN + KEY_RANGE))
    if EXISTING_COUNTS in base:
        no_existing = base.replace(EXISTING_COUNTS, "SELECT 0, 0,")
        found["work_mem + no `existing` (lower bound)"] = (mem, no_existing)
    for order_by in (' ORDER BY s."line_item_id"', ' ORDER BY c."line_item_id"'):
        if order_by in base:
            found["no ORDER BY (reference)"] = ([], base.replace(order_by, ""))
    found["classify once, skip unchanged rows (proposal)"] = ([], classify_once())
    start, end = base.find("ON CONFLICT"), base.find("RETURNING")
    if 0 < start < end:
        # valid only where the chunk's key range is empty in the target: fresh loads
        found[FRESH_ONLY + "plain INSERT, no ON CONFLICT"] = ([], base[:start] + base[end:])
    return found


def run_variant(conn, chunks: list[pl.DataFrame], prep: list[str], text: str) -> float:
    seconds = 0.0
    for chunk in chunks:
        with conn, conn.cursor() as cur:
            upsert.copy_to_stage(cur, prepare(SPEC, chunk, DEFAULT_TENANT))
            for statement in prep:
                cur.execute(statement)
            started = time.monotonic()
            cur.execute(text, {"tenant": DEFAULT_TENANT})
            cur.fetchall()
            seconds += time.monotonic() - started
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.variants", description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--work", default=str(REPO / "bench" / "out"))
    args = parser.parse_args(argv)
    work = Path(args.work).resolve()
    drop = generate(work / "drops" / f"profile-{args.orders}-csv", DropSpec(orders=args.orders))
    scratch = work / "variants"
    scratch.mkdir(parents=True, exist_ok=True)
    staged = stage_all(drop.files, scratch, defaultdict(float))
    server = databases.server_url(work)
    dsn = databases.fresh_database(server, "variants")
    try:
        with connected(dsn) as conn:
            for entity in ("customers", "products", "orders"):
                path, _ = staged[entity]
                frame = pl.read_parquet(path).with_columns(pl.lit("v").alias(BATCH))
                chunks = [
                    frame[i : i + args.chunk_rows] for i in range(0, frame.height, args.chunk_rows)
                ]
                load_chunks(conn, ENTITIES[entity], chunks, DEFAULT_TENANT)
            lines = pl.read_parquet(staged["line_items"][0]).with_columns(pl.lit("v").alias(BATCH))
            chunks = [
                lines[i : i + args.chunk_rows] for i in range(0, lines.height, args.chunk_rows)
            ]
            # settle the parents first, so autovacuum's first pass over them does not land
            # on whichever variant happens to run first
            conn.autocommit = True
            conn.cursor().execute(
                "VACUUM ANALYZE commerce.customers, commerce.products, commerce.orders"
            )
            conn.autocommit = False
            with conn, conn.cursor() as cur:
                cur.execute(create_stage(SPEC))
            base = upsert.upsert_statement(SPEC).as_string(conn)
            print(f"line items: {lines.height:,} rows in {len(chunks)} chunks; upsert seconds")
            print("| variant | fresh (empty table) | unchanged re-load |")
            print("|---|---:|---:|")
            for name, (prep, text) in variants(base).items():
                fresh, unchanged = [], []
                for _ in range(args.repeat):
                    conn.autocommit = True
                    conn.cursor().execute(sql.SQL("TRUNCATE commerce.line_items"))
                    conn.autocommit = False
                    fresh.append(run_variant(conn, chunks, prep, text))
                    if not name.startswith(FRESH_ONLY):
                        unchanged.append(run_variant(conn, chunks, prep, text))
                again = f"{min(unchanged):.2f}" if unchanged else "n/a"
                print(f"| {name} | {min(fresh):.2f} | {again} |")
    finally:
        databases.drop_database(server, dsn)


if __name__ == "__main__":
    main()
