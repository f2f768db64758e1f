"""The per-chunk strategy and its statements: COPY straight into the target where a
chunk's key range is empty; else tell an unchanged range by its summary, skip the rows
known by key, version and fingerprint, COPY the rest into a temp table, hold its orphans,
and one set-based upsert.

Every chunk is its own short transaction and idempotent (upsert + newer-wins), so a run
killed between chunks and executed again converges to the same table state.
"""

import logging
from enum import Enum

from psycopg2 import errors as pg_errors
from psycopg2 import sql
from psycopg2.extensions import cursor

from import_pipeline.core.columns import BATCH, FINGERPRINT
from import_pipeline.core.entities import EntitySpec
from import_pipeline.core.report import LoadCounts
from import_pipeline.db import held
from import_pipeline.db.chunk import Chunk, written_columns
from import_pipeline.db.copy import copy_rows
from import_pipeline.db.retry import CONSTRAINT_ERRORS
from import_pipeline.db.sql import (
    WEIGHT_MASK,
    column_list,
    ident,
    key_range_stored,
    probe,
    probe_columns,
    range_summary,
    stage,
    stage_columns,
    target,
    target_columns,
)

log = logging.getLogger(__name__)

_STORED = "stored_"


def incoming(name: str, partial: frozenset[str]) -> sql.Composable:
    """The value an upsert writes into a column: the incoming one, or for a partial field
    (newer-wins field by field) the incoming one unless it is blank (null), then the
    stored one."""
    value = sql.SQL("EXCLUDED.{}").format(ident(name))
    return sql.SQL("COALESCE({}, t.{})").format(value, ident(name)) if name in partial else value


def upsert_statement(spec: EntitySpec, partial: frozenset[str] = frozenset()) -> sql.Composable:
    """Classify the chunk against the stored rows once, then upsert only what must change.

    One key-ranged LEFT JOIN (chunks are contiguous key ranges, so the range keeps the join
    on the primary key index however large the table) marks each row new, stale (older
    than the stored version), unchanged, or newer. Only new and newer rows reach
    INSERT .. ON CONFLICT, whose WHERE stays as the guard against a concurrent writer.
    A row whose values are the same but whose version is newer is rewritten (so a later,
    older file cannot win against it) yet counted as unchanged: only a change of values
    is an update. An unchanged row whose stored fingerprint differs (written before
    fingerprints, or hashed by another polars) gets the fingerprint only. Returns
    (stale, version_only, inserted, written_over).
    """
    key = ident(spec.key)
    values = written_columns(spec)
    changing = [n for n in values if n != spec.key]
    content = [n for n in changing if n not in (spec.version.field, FINGERPRINT)]
    version = ident(spec.version.field)
    stored_version = ident(_STORED + spec.version.field)
    same_content = sql.SQL(" AND ").join(
        sql.SQL("{}c.{} IS NOT DISTINCT FROM c.{}").format(
            sql.SQL("c.{} IS NULL OR ").format(ident(n)) if n in partial else sql.SQL(""),
            ident(n),
            ident(_STORED + n),
        )
        for n in content
    )
    new_values = sql.SQL(", ").join(incoming(n, partial) for n in changing)
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
        ), refreshed AS (
            UPDATE {target} t SET {fingerprint} = c.{fingerprint} FROM classified c
             WHERE t.tenant = %(tenant)s AND t.{key} = c.{key}
               AND c.{version} = c.{stored_version} AND {same_content}
               AND c.{fingerprint} IS DISTINCT FROM c.{stored_fingerprint}
               AND t.{version} = c.{stored_version}
               AND t.{fingerprint} IS NOT DISTINCT FROM c.{stored_fingerprint}
        ), written AS (
            INSERT INTO {target} AS t (tenant, {columns}, {batch}, _loaded_at)
            SELECT %(tenant)s, {c_columns}, c.{batch}, now() FROM classified c
             WHERE NOT c.known
                OR (c.{version} >= c.{stored_version}
                    AND NOT (c.{version} = c.{stored_version} AND {same_content}))
             ORDER BY c.{key}
            ON CONFLICT (tenant, {key}) DO UPDATE SET ({changing}, {batch}, _loaded_at)
                = ROW({new_values}, EXCLUDED.{batch}, EXCLUDED._loaded_at)
             WHERE EXCLUDED.{version} >= t.{version}
               AND ({t_changing}) IS DISTINCT FROM ({new_values})
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
        fingerprint=ident(FINGERPRINT),
        stored_fingerprint=ident(_STORED + FINGERPRINT),
        stored=sql.SQL(", ").join(
            sql.SQL("t.{} AS {}").format(ident(n), ident(_STORED + n)) for n in changing
        ),
        same_content=same_content,
        columns=column_list(values),
        c_columns=column_list(values, "c"),
        batch=ident(BATCH),
        changing=column_list(changing),
        t_changing=column_list(changing, "t"),
        new_values=new_values,
    )


def copy_to_stage(cur: cursor, chunk: Chunk) -> None:
    """Replace the stage table's contents with the chunk's rows."""
    cur.execute(sql.SQL("TRUNCATE {}").format(stage(chunk.spec)))
    copy_rows(cur, stage(chunk.spec), stage_columns(chunk.spec), chunk.for_stage)


class Direct(Enum):
    """What became of a chunk's COPY straight into the target."""

    LOADED = "loaded"
    RANGE_STORED = "its key range holds rows already"
    ORPHANS = "a foreign key refused it"
    REFUSED = "another constraint refused it"


def copy_into_empty_range(cur: cursor, chunk: Chunk) -> Direct:
    """COPY the chunk straight into the target when nothing is stored in its key range.

    A COPY batches the heap inserts that INSERT .. SELECT does one row at a time, and a
    fresh range needs no classifying. The probe only spares a doomed COPY: a key stored
    after it (by a concurrent writer), or outside the range as the database orders text,
    still raises UniqueViolation, which, like an orphan or any other constraint error,
    rolls the COPY back to the savepoint; the caller then upserts through the stage table.
    """
    spec = chunk.spec
    cur.execute(key_range_stored(spec), {"tenant": chunk.tenant, "lo": chunk.lo, "hi": chunk.hi})
    if cur.fetchone()[0]:
        return Direct.RANGE_STORED
    cur.execute("SAVEPOINT direct")
    try:
        copy_rows(cur, target(spec), target_columns(spec), chunk.for_target)
    except CONSTRAINT_ERRORS as exc:
        cur.execute("ROLLBACK TO SAVEPOINT direct")
        log.debug("chunk %s..%s: %s, upserting it", chunk.lo, chunk.hi, type(exc).__name__)
        return Direct.ORPHANS if isinstance(exc, pg_errors.ForeignKeyViolation) else Direct.REFUSED
    cur.execute("RELEASE SAVEPOINT direct")
    return Direct.LOADED


def write_staged(
    cur: cursor,
    spec: EntitySpec,
    tenant: str,
    row_count: int,
    *,
    orphans: bool = False,
    partial: frozenset[str] = frozenset(),
) -> LoadCounts:
    """Upsert the `row_count` rows in the stage table, holding orphans; the caller commits.

    The upsert is tried first: the foreign keys check every parent anyway, so a separate
    orphan search on every chunk would pay for those lookups twice. Only when a foreign
    key refuses the chunk is it rolled back to the savepoint, its orphans moved to held
    rows, and the rest upserted. `orphans` says a foreign key has refused these rows
    already (their COPY into the target), so they are held before the first try.
    """
    if not spec.parents:
        return _upsert(cur, spec, tenant, row_count, partial)
    if orphans:
        return _hold_then_upsert(cur, spec, tenant, row_count, partial)
    cur.execute("SAVEPOINT optimistic")
    try:
        counts = _upsert(cur, spec, tenant, row_count, partial)
    except pg_errors.ForeignKeyViolation:
        cur.execute("ROLLBACK TO SAVEPOINT optimistic")
        return _hold_then_upsert(cur, spec, tenant, row_count, partial)
    cur.execute("RELEASE SAVEPOINT optimistic")
    return counts


def _hold_then_upsert(
    cur: cursor, spec: EntitySpec, tenant: str, row_count: int, partial: frozenset[str]
) -> LoadCounts:
    held_now = held.hold_orphans(cur, spec, tenant)
    return _upsert(cur, spec, tenant, row_count - held_now, partial) + LoadCounts(held=held_now)


def _upsert(
    cur: cursor, spec: EntitySpec, tenant: str, row_count: int, partial: frozenset[str]
) -> LoadCounts:
    cur.execute(upsert_statement(spec, partial), {"tenant": tenant})
    stale, version_only, inserted, written_over = cur.fetchone()
    updated = written_over - version_only
    unchanged = row_count - stale - inserted - updated
    return LoadCounts(inserted=inserted, updated=updated, unchanged=unchanged, stale=stale)


def upsert_chunk(cur: cursor, chunk: Chunk, drop_held: bool) -> LoadCounts:
    """COPY into the target if the chunk's key range is empty there; else skip the rows
    whose fingerprint and version say they are known, and upsert the rest through the
    stage table (which also serves the superseded held rows' deletion)."""
    spec, tenant = chunk.spec, chunk.tenant
    direct = copy_into_empty_range(cur, chunk)
    if direct is Direct.LOADED and not drop_held:
        return LoadCounts(inserted=chunk.height)
    known = LoadCounts()
    if direct is Direct.RANGE_STORED and not drop_held:
        if range_unchanged(cur, chunk):
            return LoadCounts(unchanged=chunk.height)
        known, to_write = skip_known(cur, chunk)
        if not to_write:
            return known
        chunk = chunk.only(to_write)
    copy_to_stage(cur, chunk)
    if direct is Direct.LOADED:
        counts = LoadCounts(inserted=chunk.height)
    else:
        orphans = direct is Direct.ORPHANS
        counts = write_staged(
            cur, spec, tenant, chunk.height, orphans=orphans, partial=chunk.partial
        )
    if drop_held:
        held.drop_superseded(cur, spec, tenant)
    return known + counts


def range_unchanged(cur: cursor, chunk: Chunk) -> bool:
    """Whether the chunk's key range stores exactly the chunk's rows (keys, values and
    versions), told by one aggregate over the range, cheaper than the probe COPY and its
    join: the common case of a re-load. Fingerprints hash key
    and values, so equal counts and sums of them mean the same rows, with odds of ~2^-64
    against. Each version is weighed by 1 + 30 bits of its row's fingerprint, so one
    changed version always changes the sum, and versions moved between rows (one newer,
    one older) do unless both rows weigh the same (odds ~2^-30 per pair). Anything else,
    a stored row without a fingerprint included, goes on to `skip_known`."""
    params = {
        "tenant": chunk.tenant,
        "lo": chunk.lo,
        "hi": chunk.hi,
        "rows": chunk.height,
        "mask": WEIGHT_MASK,
    }
    cur.execute(range_summary(chunk.spec), params)
    return tuple(cur.fetchone()) == chunk.summary


def skip_known(cur: cursor, chunk: Chunk) -> tuple[LoadCounts, list[str]]:
    """Compare the chunk's keys, versions and fingerprints with the stored rows (three
    narrow columns instead of whole rows): count the stale and the unchanged ones, give
    the unchanged ones with a newer version that version, and return the keys still to
    be written in full (new, or values changed). A re-load of mostly unchanged rows then
    sends only its changes through the stage table. The UPDATE re-checks the stored
    version and fingerprint, so a row a concurrent run rewrote meanwhile is left to it."""
    spec = chunk.spec
    cur.execute(sql.SQL("TRUNCATE {}").format(probe(spec)))
    copy_rows(cur, probe(spec), probe_columns(spec), chunk.for_probe)
    batch = chunk.rows.get_column(BATCH)[0]
    params = {"tenant": chunk.tenant, "lo": chunk.lo, "hi": chunk.hi, "batch": batch}
    cur.execute(skip_statement(spec), params)
    stale, unchanged, to_write = cur.fetchone()
    return LoadCounts(stale=stale, unchanged=unchanged), to_write


def skip_statement(spec: EntitySpec) -> sql.Composable:
    """See `skip_known`; returns (stale, unchanged, keys to write)."""
    return sql.SQL(
        """
        WITH compared AS MATERIALIZED (
            SELECT p.{key}, p.{version}, p.{fingerprint},
                   t.{version} AS stored_version, t.{fingerprint} AS stored_fingerprint
              FROM {probe} p LEFT JOIN {target} t
                ON t.tenant = %(tenant)s AND t.{key} = p.{key}
               AND t.{key} BETWEEN %(lo)s AND %(hi)s
        ), bumped AS (
            UPDATE {target} t
               SET {version} = c.{version}, {batch} = %(batch)s, _loaded_at = now()
              FROM compared c
             WHERE t.tenant = %(tenant)s AND t.{key} = c.{key}
               AND c.{fingerprint} = c.stored_fingerprint AND c.{version} > c.stored_version
               AND t.{version} = c.stored_version AND t.{fingerprint} = c.stored_fingerprint
        )
        SELECT count(*) FILTER (WHERE c.{version} < c.stored_version),
               count(*) FILTER (WHERE c.{fingerprint} = c.stored_fingerprint
                                  AND c.{version} >= c.stored_version),
               coalesce(array_agg(c.{key}) FILTER (
                   WHERE c.stored_version IS NULL
                      OR (c.{version} >= c.stored_version
                          AND c.{fingerprint} IS DISTINCT FROM c.stored_fingerprint)
               ), '{{}}')
          FROM compared c
        """
    ).format(
        key=ident(spec.key),
        version=ident(spec.version.field),
        fingerprint=ident(FINGERPRINT),
        batch=ident(BATCH),
        probe=probe(spec),
        target=target(spec),
    )
