"""Rows into PostgreSQL by COPY: polars writes the CSV, psycopg2 streams it."""

import io

import polars as pl
from psycopg2 import sql
from psycopg2.extensions import cursor

from import_pipeline.db.sql import column_list

READ_BYTES = 1 << 20
"""psycopg2 reads a COPY's data in pieces of this size, taking the GIL for each: large
pieces keep the hand-offs with other threads (the load's prefetch) few."""


def csv_rows(rows: pl.DataFrame, columns: list[str] | None = None) -> bytes:
    """`rows` (or these columns of them) as header-less CSV, the way COPY reads it: an
    unquoted empty field is NULL."""
    buffer = io.BytesIO()
    (rows if columns is None else rows.select(columns)).write_csv(buffer, include_header=False)
    return buffer.getvalue()


def copy_rows(cur: cursor, table: sql.Composable, columns: list[str], encoded: bytes) -> None:
    """COPY CSV rows (from `csv_rows`) into these columns of `table`."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        table, column_list(columns)
    )
    cur.copy_expert(statement.as_string(cur), io.BytesIO(encoded), size=READ_BYTES)
