"""COPY a chunk into a temp table, hold its orphans, then one set-based upsert.

Every chunk is its own short transaction and idempotent (upsert + newer-wins), so a run
killed between chunks and executed again converges to the same table state. A chunk that
a database constraint rejects is split until the offending rows are isolated.
"""

import io
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import polars as pl
from psycopg2 import errors as pg_errors
from psycopg2 import sql
from psycopg2.extensions import connection, cursor

from import_pipeline.core.entities import VERSION_FIELD, EntitySpec
from import_pipeline.core.report import LoadCounts
from import_pipeline.core.validate import ATTRIBUTES
from import_pipeline.db import held
from import_pipeline.db.sql import (
    BATCH,
    column_list,
    create_stage,
    ident,
    stage,
    stage_columns,
    target,
)

log = logging.getLogger(__name__)

RETRYABLE = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)
CONSTRAINT_ERRORS = (pg_errors.IntegrityError, pg_errors.DataError)
MAX_ATTEMPTS = 6
_STORED = "stored_"


@dataclass(frozen=True)
class DbReject:
    """A row the database refused although validation passed it (e.g. a duplicate SKU)."""

    source_row: int
    error: str
    row: dict


def upsert_statement(spec: EntitySpec) -> sql.Composable:
    """Classify the chunk against the stored rows once, then upsert only what must change.

    One key-ranged LEFT JOIN (chunks are contiguous key ranges, so the range keeps the join
    on the primary key index however large the table) marks each row new, stale (older
    than the stored version), unchanged, or newer. Only new and newer rows reach
    INSERT .. ON CONFLICT, whose WHERE stays as the guard against a concurrent writer.
    A row whose values are the same but whose version is newer is rewritten (so a later,
    older file cannot win against it) yet counted as unchanged: only a change of values
    is an update. Returns (stale, version_only, inserted, written_over).
    """
    key = ident(spec.key)
    values = [*spec.field_names, ATTRIBUTES]
    changing = [n for n in values if n != spec.key]
    content = [n for n in changing if n != VERSION_FIELD]
    version = ident(VERSION_FIELD)
    stored_version = ident(_STORED + VERSION_FIELD)
    same_content = sql.SQL(" AND ").join(
        sql.SQL("c.{} IS NOT DISTINCT FROM c.{}").format(ident(n), ident(_STORED + n))
        for n in content
    )
    return sql.SQL(
        """
        WITH classified AS MATERIALIZED (
            SELECT s.*, t.{key} IS NOT NULL AS known, {stored}
              FROM {stage} s LEFT JOIN {target} t
                ON t.tenant = %(tenant)s AND t.{key} = s.{key}
               AND t.{key} BETWEEN (SELECT min({key}) FROM {stage})
                               AND (SELECT max({key}) FROM {stage})
        ), counted AS (
            SELECT count(*) FILTER (WHERE known AND c.{version} < c.{stored_version}) AS stale,
                   count(*) FILTER (WHERE known AND c.{version} > c.{stored_version}
                                      AND {same_content}) AS version_only
              FROM classified c
        ), written AS (
            INSERT INTO {target} AS t (tenant, {columns}, {batch}, _loaded_at)
            SELECT %(tenant)s, {c_columns}, c.{batch}, now() FROM classified c
             WHERE NOT c.known
                OR (c.{version} >= c.{stored_version}
                    AND NOT (c.{version} = c.{stored_version} AND {same_content}))
             ORDER BY c.{key}
            ON CONFLICT (tenant, {key}) DO UPDATE SET ({changing}, {batch}, _loaded_at)
                = ROW({excluded}, EXCLUDED.{batch}, EXCLUDED._loaded_at)
             WHERE EXCLUDED.{version} >= t.{version}
               AND ({t_changing}) IS DISTINCT FROM ({excluded})
            RETURNING (xmax = 0) AS inserted
        )
        SELECT (SELECT stale FROM counted), (SELECT version_only FROM counted),
               count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
          FROM written
        """
    ).format(
        stage=stage(spec),
        target=target(spec),
        key=key,
        version=version,
        stored_version=stored_version,
        stored=sql.SQL(", ").join(
            sql.SQL("t.{} AS {}").format(ident(n), ident(_STORED + n)) for n in changing
        ),
        same_content=same_content,
        columns=column_list(values),
        c_columns=column_list(values, "c"),
        batch=ident(BATCH),
        changing=column_list(changing),
        t_changing=column_list(changing, "t"),
        excluded=column_list(changing, "excluded"),
    )


def copy_chunk(cur: cursor, spec: EntitySpec, chunk: pl.DataFrame) -> None:
    """Replace the stage table's contents with `chunk` through COPY (CSV)."""
    buffer = io.BytesIO()
    chunk.select(stage_columns(spec)).write_csv(buffer, include_header=False)
    buffer.seek(0)
    cur.execute(sql.SQL("TRUNCATE {}").format(stage(spec)))
    copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        stage(spec), column_list(stage_columns(spec))
    )
    cur.copy_expert(copy.as_string(cur), buffer)


def write_staged(cur: cursor, spec: EntitySpec, tenant: str, rows: int) -> LoadCounts:
    """Upsert the `rows` in the stage table, holding orphans; the caller commits.

    The upsert is tried first: the foreign keys check every parent anyway, so a separate
    orphan search on every chunk would pay for those lookups twice. Only when a foreign
    key refuses the chunk is it rolled back to the savepoint, its orphans moved to held
    rows, and the rest upserted.
    """
    if not spec.parents:
        return _upsert(cur, spec, tenant, rows)
    cur.execute("SAVEPOINT optimistic")
    try:
        counts = _upsert(cur, spec, tenant, rows)
    except pg_errors.ForeignKeyViolation:
        cur.execute("ROLLBACK TO SAVEPOINT optimistic")
        held_now = held.hold_orphans(cur, spec, tenant)
        return _upsert(cur, spec, tenant, rows - held_now) + LoadCounts(held=held_now)
    cur.execute("RELEASE SAVEPOINT optimistic")
    return counts


def _upsert(cur: cursor, spec: EntitySpec, tenant: str, rows: int) -> LoadCounts:
    cur.execute(upsert_statement(spec), {"tenant": tenant})
    stale, version_only, inserted, written_over = cur.fetchone()
    updated = written_over - version_only
    unchanged = rows - stale - inserted - updated
    return LoadCounts(inserted=inserted, updated=updated, unchanged=unchanged, stale=stale)


def load_chunk(
    conn: connection, spec: EntitySpec, chunk: pl.DataFrame, tenant: str, drop_held: bool
) -> tuple[LoadCounts, list[DbReject]]:
    """Load one chunk in one transaction, retrying deadlocks; isolate constraint rejects."""
    try:
        return _with_retry(conn, lambda cur: _load(cur, spec, chunk, tenant, drop_held)), []
    except CONSTRAINT_ERRORS as exc:
        conn.rollback()
        if chunk.height == 1:
            row = chunk.row(0, named=True)
            return LoadCounts(rejected=1), [DbReject(row["_row"], _constraint_label(exc), row)]
        half = chunk.height // 2
        first, first_rejects = load_chunk(conn, spec, chunk[:half], tenant, drop_held)
        second, second_rejects = load_chunk(conn, spec, chunk[half:], tenant, drop_held)
        return first + second, first_rejects + second_rejects


def load_entity(
    conn: connection,
    spec: EntitySpec,
    chunks: Iterable[pl.DataFrame],
    tenant: str,
    on_chunk: Callable[[int], None] | None = None,
) -> tuple[LoadCounts, list[DbReject]]:
    """Load staged rows chunk by chunk; `on_chunk(rows_in_chunk)` reports progress."""
    with conn, conn.cursor() as cur:
        cur.execute(create_stage(spec))
        drop_held = held.any_held(cur, spec, tenant)
    totals, rejects = LoadCounts(), []
    for chunk in chunks:
        if chunk.height == 0:
            continue
        counts, chunk_rejects = load_chunk(conn, spec, chunk, tenant, drop_held)
        totals, rejects = totals + counts, rejects + chunk_rejects
        if on_chunk is not None:
            on_chunk(chunk.height)
    return totals, rejects


def _load(
    cur: cursor, spec: EntitySpec, chunk: pl.DataFrame, tenant: str, drop_held: bool
) -> LoadCounts:
    copy_chunk(cur, spec, chunk)
    counts = write_staged(cur, spec, tenant, chunk.height)
    if drop_held:
        held.drop_superseded(cur, spec, tenant)
    return counts


def _with_retry(conn: connection, work: Callable[[cursor], LoadCounts]) -> LoadCounts:
    """Run `work` in a transaction; a deadlock or serialization failure is retried with
    jittered exponential backoff, because overlapping runs may touch the same keys."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with conn, conn.cursor() as cur:
                return work(cur)
        except RETRYABLE as exc:
            if attempt == MAX_ATTEMPTS:
                raise
            pause = 0.05 * 2**attempt * (1 + random.random())
            log.warning(
                "retrying a chunk after %s (attempt %d, %.2fs)", type(exc).__name__, attempt, pause
            )
            time.sleep(pause)
    raise AssertionError("unreachable")


def _constraint_label(exc: Exception) -> str:
    diag = getattr(exc, "diag", None)
    name = getattr(diag, "constraint_name", None) or getattr(diag, "sqlstate", None) or "error"
    return f"db:{name}"


def settle_held(
    conn: connection, spec: EntitySpec, tenant: str, max_age_seconds: float
) -> LoadCounts:
    """Expire held rows past the max age, then load those whose parents exist now."""
    if not spec.parents:
        return LoadCounts()
    with conn, conn.cursor() as cur:
        expired = held.expire(cur, spec, tenant, max_age_seconds)
    return LoadCounts(expired=expired, resolved=resolve_held(conn, spec, tenant))


def resolve_held(conn: connection, spec: EntitySpec, tenant: str) -> int:
    """Load every held row of this entity whose parents exist now; return how many."""
    if not spec.parents:
        return 0

    def release(cur: cursor) -> LoadCounts:
        cur.execute(create_stage(spec))
        released = held.release_ready(cur, spec, tenant)
        if released:
            write_staged(cur, spec, tenant, released)
        return LoadCounts(resolved=released)

    return _with_retry(conn, release).resolved
