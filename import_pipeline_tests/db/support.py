"""Helpers that stage canonical rows and load them (the migrated `conn` is the suite's)."""

from datetime import UTC, datetime

import polars as pl
from psycopg2.extensions import connection

from import_pipeline.core.columns import BATCH
from import_pipeline.core.entities import ENTITIES
from import_pipeline.core.profiles import CANONICAL
from import_pipeline.core.report import LoadCounts
from import_pipeline.core.stage_local import stage_in_memory
from import_pipeline.db.loader import load_chunks
from import_pipeline.load.held import expire_and_release

LANDED = datetime(2024, 6, 1, tzinfo=UTC)


def csv_of(rows: list[dict]) -> bytes:
    return pl.DataFrame(rows, schema={k: pl.String for k in rows[0]}).write_csv().encode()


def staged_rows(
    entity: str, rows: list[dict], batch: str = "b1", landed_at: datetime = LANDED
) -> pl.DataFrame:
    """Canonical rows as the staged, key-ordered frame an entity asset reads."""
    name = f"{entity}.csv"
    with stage_in_memory([(name, csv_of(rows))], name, landed_at, CANONICAL) as (_, staged):
        return staged[entity].with_columns(pl.lit(batch).alias(BATCH))


def load(
    conn: connection,
    entity: str,
    rows: list[dict],
    batch: str = "b1",
    tenant: str = "default",
    chunk_rows: int = 1000,
    landed_at: datetime = LANDED,
) -> LoadCounts:
    """Stage canonical rows as a file of `entity` would be, then settle held rows and
    load them in chunks, as an entity asset does; return all counts."""
    frame = staged_rows(entity, rows, batch, landed_at)
    spec = ENTITIES[entity]
    settled = expire_and_release(conn, spec, tenant, 3600)
    chunks = [frame[i : i + chunk_rows] for i in range(0, frame.height, chunk_rows)]
    counts, _ = load_chunks(conn, spec, chunks, tenant)
    return counts + settled


def table(conn: connection, statement: str, params: tuple = ()) -> list[tuple]:
    with conn, conn.cursor() as cur:
        cur.execute(statement, params or None)
        return cur.fetchall()
