"""The run report in the ledger: staging's progress, every row of a batch accounted for,
the keys in conflict (`ingest.duplicates`), and a batch's rejects and duplicates read back
for export.

These add to `ingest.files` (migration 005) next to what `ledger` records; `ledger.start`
leaves them alone, so a run's staging clears them itself (`reset`).
"""

import json
from collections.abc import Iterable, Iterator

import polars as pl
from psycopg2 import sql
from psycopg2.extensions import connection

from import_pipeline.core.columns import ERRORS, ROW, SOURCE
from import_pipeline.core.dedupe import ENTITY, KEY, OUTCOME
from import_pipeline.db.copy import copy_rows, csv_rows

DUPLICATES = sql.Identifier("ingest", "duplicates")
REJECTS = sql.Identifier("ingest", "rejects")
EXPORT_ROWS = 10_000
"""Rows fetched at a time when a batch's rejects are exported (never all in memory)."""


def reset(conn: connection, partition_key: str) -> None:
    """Forget what an earlier run of the batch reported, before this one stages it."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET rows_read = 0, rows_validated = 0, rows_staged = NULL,"
            " rows_rejected = NULL, rows_skipped = NULL, rows_duplicates = NULL,"
            " accounting = '{}', rejects_file = NULL, duplicates_file = NULL"
            " WHERE partition_key = %s",
            (partition_key,),
        )
        cur.execute("DELETE FROM ingest.duplicates WHERE partition_key = %s", (partition_key,))


def staging_progress(conn: connection, partition_key: str, read: int, validated: int) -> None:
    """Rows read and validated so far, while the batch stages."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET rows_read = %s, rows_validated = %s WHERE partition_key = %s",
            (read, validated, partition_key),
        )


def record(
    conn: connection,
    partition_key: str,
    accounting: dict[str, dict],
    rejects_file: str | None,
    duplicates_file: str | None,
) -> None:
    """Each entity's accounting (read, staged, rejected, skipped by reason, duplicates,
    reject rate, threshold), the batch's totals, and the files a person downloads."""
    total = {
        name: sum(e[name] for e in accounting.values())
        for name in ("read", "staged", "rejected", "skipped", "duplicates")
    }
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET rows_read = %s, rows_staged = %s, rows_rejected = %s,"
            " rows_skipped = %s, rows_duplicates = %s, accounting = %s,"
            " rejects_file = %s, duplicates_file = %s WHERE partition_key = %s",
            (
                total["read"],
                total["staged"],
                total["rejected"],
                total["skipped"],
                total["duplicates"],
                json.dumps(accounting),
                rejects_file,
                duplicates_file,
                partition_key,
            ),
        )


def accounting(conn: connection, partition_key: str) -> dict[str, dict]:
    """The batch's accounting per entity, as staging recorded it ({} before)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT accounting FROM ingest.files WHERE partition_key = %s", (partition_key,)
        )
        row = cur.fetchone()
    return row[0] if row else {}


def save_duplicates(
    conn: connection, partition_key: str, duplicates: Iterable[pl.DataFrame]
) -> None:
    """Replace the batch's keys in conflict (frames from `StagedBatch.duplicates`)."""
    with conn, conn.cursor() as cur:
        cur.execute("DELETE FROM ingest.duplicates WHERE partition_key = %s", (partition_key,))
        for part in duplicates:
            values = [c for c in part.columns if c not in (ENTITY, KEY, OUTCOME, ROW)]
            frame = part.select(
                pl.lit(partition_key).alias("partition_key"),
                pl.col(ENTITY).alias("entity"),
                pl.col(KEY).alias("key"),
                pl.col(ROW).alias("source_row"),
                (pl.col(OUTCOME) == "kept").alias("kept"),
                pl.struct(values).struct.json_encode().alias("values"),
            )
            copy_rows(cur, DUPLICATES, frame.columns, csv_rows(frame))


def rejects(conn: connection, partition_key: str) -> Iterator[pl.DataFrame]:
    """The batch's rejects (validation and database) as rejects.csv has them: the raw
    columns, `_source`, `_row`, `_errors`; in parts of EXPORT_ROWS rows, in row order."""
    columns = _keys(conn, REJECTS, "raw", partition_key)
    statement = (
        "SELECT raw, source, source_row, errors FROM ingest.rejects WHERE partition_key = %s"
        " ORDER BY entity, source_row"
    )
    schema = {**dict.fromkeys(columns, pl.String), SOURCE: pl.String, ROW: pl.Int64}
    for rows in _fetched(conn, statement, partition_key):
        records = [
            {**_texts(raw, columns), SOURCE: source, ROW: row, ERRORS: errors}
            for raw, source, row, errors in rows
        ]
        yield pl.DataFrame(records, schema={**schema, ERRORS: pl.List(pl.String)})


def duplicates(conn: connection, partition_key: str) -> Iterator[pl.DataFrame]:
    """The batch's keys in conflict as duplicates.csv has them, in parts."""
    columns = _keys(conn, DUPLICATES, "values", partition_key)
    statement = (
        'SELECT entity, key, kept, source_row, "values" FROM ingest.duplicates'
        " WHERE partition_key = %s ORDER BY entity, key, source_row"
    )
    schema = {ENTITY: pl.String, KEY: pl.String, OUTCOME: pl.String, ROW: pl.Int64}
    for rows in _fetched(conn, statement, partition_key):
        records = [
            {
                ENTITY: entity,
                KEY: key,
                OUTCOME: "kept" if kept else "dropped",
                ROW: row,
                **_texts(values, columns),
            }
            for entity, key, kept, row, values in rows
        ]
        yield pl.DataFrame(records, schema={**schema, **dict.fromkeys(columns, pl.String)})


def _keys(conn: connection, table: sql.Identifier, column: str, partition_key: str) -> list[str]:
    """Every key of a JSON column over the batch's rows, in name order."""
    with conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "SELECT DISTINCT jsonb_object_keys({}) AS k FROM {} WHERE partition_key = %s"
                " ORDER BY k"
            ).format(sql.Identifier(column), table),
            (partition_key,),
        )
        return [row[0] for row in cur.fetchall()]


def _texts(values: dict, columns: list[str]) -> dict[str, str | None]:
    """A JSON object's values as text (JSON for nested ones), one per column."""
    texts = {}
    for name in columns:
        value = values.get(name)
        if value is None or isinstance(value, str):
            texts[name] = value
        else:
            texts[name] = json.dumps(value)
    return texts


def _fetched(conn: connection, statement: str, partition_key: str) -> Iterator[list]:
    with conn, conn.cursor(name="export") as cur:
        cur.itersize = EXPORT_ROWS
        cur.execute(statement, (partition_key,))
        while rows := cur.fetchmany(EXPORT_ROWS):
            yield rows


def known(conn: connection, partition_key: str) -> bool:
    """Whether the ledger has the batch."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM ingest.files WHERE partition_key = %s", (partition_key,))
        return cur.fetchone() is not None


def batches(conn: connection, partition_keys: list[str], entities: list[str]) -> list[dict]:
    """A run's batches as one row each, in `partition_keys` order: file, entities fed,
    rows read, rows rejected (by rules, and by the database in the `entities`' counts),
    status and error."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT f.partition_key, f.uri, f.status, f.error, coalesce(f.rows_read, 0),"
            " coalesce(f.rows_rejected, 0) + coalesce((SELECT sum((c.value ->> 'rejected')::int)"
            "  FROM jsonb_each(f.counts) c WHERE c.key = ANY(%s::text[])), 0),"
            " ARRAY(SELECT jsonb_object_keys(f.accounting))"
            " FROM unnest(%s::text[]) WITH ORDINALITY AS u(k, i)"
            " JOIN ingest.files f ON f.partition_key = u.k ORDER BY u.i",
            (entities, partition_keys),
        )
        names = ["partition_key", "uri", "status", "error", "rows", "rejects", "entities"]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
