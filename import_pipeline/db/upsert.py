"""Load key-ordered chunks: COPY straight into the target where a chunk's key range is
empty; else settle the rows known by key, version and fingerprint, COPY the rest into a
temp table, hold its orphans, and one set-based upsert.

Every chunk is its own short transaction and idempotent (upsert + newer-wins), so a run
killed between chunks and executed again converges to the same table state. A chunk that
a database constraint rejects is split until the offending rows are isolated. The next
chunk is read and fingerprinted in a background thread while chunks are in the database.
"""

import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from itertools import islice
from queue import SimpleQueue
from typing import TypeVar

import polars as pl
from psycopg2 import errors as pg_errors
from psycopg2 import sql
from psycopg2.extensions import connection, cursor

from import_pipeline.core.entities import VERSION_FIELD, EntitySpec
from import_pipeline.core.report import LoadCounts
from import_pipeline.core.validate import ATTRIBUTES
from import_pipeline.db import held
from import_pipeline.db.copy import copy_rows, csv_rows
from import_pipeline.db.sql import (
    BATCH,
    FINGERPRINT,
    TENANT,
    WEIGHT_MASK,
    column_list,
    create_probe,
    create_stage,
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

RETRYABLE = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)
CONSTRAINT_ERRORS = (pg_errors.IntegrityError, pg_errors.DataError)
MAX_ATTEMPTS = 6
_STORED = "stored_"

_T = TypeVar("_T")
_U = TypeVar("_U")


@dataclass(frozen=True)
class DbReject:
    """A row the database refused although validation passed it (e.g. a duplicate SKU):
    its source row number and staged values, without the load's own columns (batch,
    fingerprint), as they go to `ingest.rejects.raw` and the batch's rejects CSV."""

    source_row: int
    error: str
    row: dict


@dataclass(frozen=True)
class Chunk:
    """A key-ordered chunk of one tenant's rows and its key range (read ahead in the
    prefetch thread). Each of its COPY encodings (target, stage, probe) is made when
    first needed: most chunks take one path, and encoding every one up front cost ~20 ms
    of CPU per 50k rows that the database's backends want."""

    spec: EntitySpec
    tenant: str
    rows: pl.DataFrame
    lo: str
    hi: str
    partial: frozenset[str] = frozenset()

    @property
    def height(self) -> int:
        return self.rows.height

    @cached_property
    def for_target(self) -> bytes:
        """For a COPY into the target: the tenant as a literal column, and the rows in
        their first parent's key order (an order's customer, a line's order), not their
        own. The foreign-key lookups and the inserts into the parent column's index then
        walk those indexes in order instead of jumping about them: at 1M orders the
        orders' COPY took 13-20% less backend CPU (`bench.growth`; polars' byte order is
        the index's under the C collation, and nearly so for ids under others). Re-loads
        pay for it: within the chunk's key range the primary key splits its pages in
        halves and key-range reads visit the rows out of order (~0.1 s more for 1M
        unchanged orders, against ~2 s saved by the fresh load)."""
        rows = self.rows.with_columns(pl.lit(self.tenant).alias(TENANT))
        if self.spec.parents:
            parent = self.spec.parents[0].field
            if not rows.get_column(parent).is_sorted(nulls_last=True):
                rows = rows.sort(parent, nulls_last=True, maintain_order=True)
        return csv_rows(rows, target_columns(self.spec))

    @cached_property
    def for_stage(self) -> bytes:
        return csv_rows(self.rows, stage_columns(self.spec))

    @cached_property
    def for_probe(self) -> bytes:
        return csv_rows(self.rows, probe_columns(self.spec))

    @cached_property
    def summary(self) -> tuple[int, int, int, int]:
        """What `range_summary` returns for a key range that holds exactly these rows."""
        fp = pl.col(FINGERPRINT)
        micros = pl.col(VERSION_FIELD).dt.epoch("us").cast(pl.Int128)
        weighted = ((fp & WEIGHT_MASK) + 1).cast(pl.Int128) * micros
        sums = (fp.count().alias("n"), fp.cast(pl.Int128).sum().alias("fp"), weighted.sum())
        return self.rows.select(pl.len(), *sums).row(0)

    def only(self, keys: list[str]) -> "Chunk":
        """The chunk's rows with these keys (still in key order)."""
        return self.of(self.rows.filter(pl.col(self.spec.key).is_in(keys)))

    def of(self, rows: pl.DataFrame) -> "Chunk":
        """A chunk of the same entity and tenant holding `rows` (some of this one's)."""
        return prepare(self.spec, rows, self.tenant, self.partial)


def prepare(
    spec: EntitySpec, rows: pl.DataFrame, tenant: str, partial: frozenset[str] = frozenset()
) -> Chunk:
    """`rows` (sorted by key) as a chunk with their fingerprints and its key range;
    `partial`: the fields whose blank (null) values keep the stored ones."""
    if FINGERPRINT not in rows.columns:
        rows = rows.with_columns(fingerprint(spec))
    keys = rows.get_column(spec.key)
    return Chunk(spec, tenant, rows, keys.min(), keys.max(), partial)


def fingerprint(spec: EntitySpec) -> pl.Expr:
    """A 64-bit hash of a row's key and values, not its version: equal values, equal
    fingerprint, so a re-load can skip rows whose stored fingerprint and version match
    without sending them in full. Two different rows share one with odds of 2^-64. The
    key is in it so that a key range's sum of fingerprints stands for its rows (see
    `range_unchanged`). polars may hash differently after an upgrade: then rows merely
    take the full comparison once, which stores their new fingerprint."""
    content = [n for n in _values(spec) if n not in (VERSION_FIELD, FINGERPRINT)]
    return pl.struct(content).hash(seed=0).reinterpret(signed=True).alias(FINGERPRINT)


def _values(spec: EntitySpec) -> list[str]:
    """The columns of a stored row that a load writes (besides tenant and bookkeeping)."""
    return [*spec.field_names, ATTRIBUTES, FINGERPRINT]


def prefetched(items: Iterable[_T], work: Callable[[_T], _U]) -> Iterator[_U]:
    """`work(item)` for every item, the next one computed in a background thread while
    the caller uses the current one (polars and psycopg2 both release the GIL).

    One worker and one pending item bound memory to about two prepared items. An
    exception from iterating `items` or from `work` is raised to the caller at the item
    it belongs to. Closing the generator (use `contextlib.closing`) waits for the pending
    item, so the thread never outlives the caller.
    """
    source = iter(items)

    def next_done() -> list[_U]:
        """The next item's result, or [] when the items are exhausted."""
        return [work(item) for item in islice(source, 1)]

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch") as pool:
        pending = pool.submit(next_done)
        while done := pending.result():
            pending = pool.submit(next_done)
            yield done[0]


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
    values = _values(spec)
    changing = [n for n in values if n != spec.key]
    content = [n for n in changing if n not in (VERSION_FIELD, FINGERPRINT)]
    version = ident(VERSION_FIELD)
    stored_version = ident(_STORED + VERSION_FIELD)
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
    rows: int,
    *,
    orphans: bool = False,
    partial: frozenset[str] = frozenset(),
) -> LoadCounts:
    """Upsert the `rows` in the stage table, holding orphans; the caller commits.

    The upsert is tried first: the foreign keys check every parent anyway, so a separate
    orphan search on every chunk would pay for those lookups twice. Only when a foreign
    key refuses the chunk is it rolled back to the savepoint, its orphans moved to held
    rows, and the rest upserted. `orphans` says a foreign key has refused these rows
    already (their COPY into the target), so they are held before the first try.
    """
    if not spec.parents:
        return _upsert(cur, spec, tenant, rows, partial)
    if orphans:
        return _hold_then_upsert(cur, spec, tenant, rows, partial)
    cur.execute("SAVEPOINT optimistic")
    try:
        counts = _upsert(cur, spec, tenant, rows, partial)
    except pg_errors.ForeignKeyViolation:
        cur.execute("ROLLBACK TO SAVEPOINT optimistic")
        return _hold_then_upsert(cur, spec, tenant, rows, partial)
    cur.execute("RELEASE SAVEPOINT optimistic")
    return counts


def _hold_then_upsert(
    cur: cursor, spec: EntitySpec, tenant: str, rows: int, partial: frozenset[str]
) -> LoadCounts:
    held_now = held.hold_orphans(cur, spec, tenant)
    return _upsert(cur, spec, tenant, rows - held_now, partial) + LoadCounts(held=held_now)


def _upsert(
    cur: cursor, spec: EntitySpec, tenant: str, rows: int, partial: frozenset[str]
) -> LoadCounts:
    cur.execute(upsert_statement(spec, partial), {"tenant": tenant})
    stale, version_only, inserted, written_over = cur.fetchone()
    updated = written_over - version_only
    unchanged = rows - stale - inserted - updated
    return LoadCounts(inserted=inserted, updated=updated, unchanged=unchanged, stale=stale)


def load_chunk(
    conn: connection, chunk: Chunk, drop_held: bool
) -> tuple[LoadCounts, list[DbReject]]:
    """Load one chunk in one transaction, retrying deadlocks; isolate constraint rejects."""
    try:
        return _with_retry(conn, lambda cur: _load(cur, chunk, drop_held)), []
    except CONSTRAINT_ERRORS as exc:
        conn.rollback()
        if chunk.height == 1:
            row = chunk.rows.drop(BATCH, FINGERPRINT).row(0, named=True)
            return LoadCounts(rejected=1), [DbReject(row["_row"], _constraint_label(exc), row)]
        half = chunk.height // 2
        counts, rejects = LoadCounts(), []
        for part in (chunk.rows[:half], chunk.rows[half:]):
            more, more_rejects = load_chunk(conn, chunk.of(part), drop_held)
            counts, rejects = counts + more, rejects + more_rejects
        return counts, rejects


def load_entity(
    conn: connection,
    spec: EntitySpec,
    chunks: Iterable[pl.DataFrame],
    tenant: str,
    on_chunk: Callable[[int], None] | None = None,
    more_connections: Sequence[connection] = (),
    partial: frozenset[str] = frozenset(),
) -> tuple[LoadCounts, list[DbReject]]:
    """Load staged rows chunk by chunk; `on_chunk(rows_in_chunk)` reports progress.

    With `more_connections`, chunks are loaded side by side, one per connection: the
    database checks foreign keys row by row on one core per connection, so a second
    connection uses the second core. Chunks are disjoint key ranges in transactions of
    their own, so their order does not matter. The next chunk is read and fingerprinted in
    a background thread meanwhile; no thread outlives this call, and at most one chunk per
    connection is in flight, plus one being prepared. `on_chunk` runs on the calling
    thread while chunks are in flight, so it must not use these connections.
    """
    connections = [conn, *more_connections]
    for each in connections:
        with each, each.cursor() as cur:
            cur.execute(create_stage(spec))
            cur.execute(create_probe(spec))
    with conn, conn.cursor() as cur:
        drop_held = held.any_held(cur, spec, tenant)
    idle: SimpleQueue[connection] = SimpleQueue()
    for each in connections:
        idle.put(each)

    def load(chunk: Chunk) -> tuple[int, tuple[LoadCounts, list[DbReject]]]:
        loader = idle.get()
        try:
            return chunk.height, load_chunk(loader, chunk, drop_held)
        finally:
            idle.put(loader)

    totals, rejects = LoadCounts(), []

    def fold(future: Future) -> None:
        nonlocal totals, rejects
        rows, (counts, chunk_rejects) = future.result()
        totals, rejects = totals + counts, rejects + chunk_rejects
        if on_chunk is not None:
            on_chunk(rows)

    nonempty = (rows for rows in chunks if rows.height)
    in_flight: deque[Future] = deque()
    with (
        ThreadPoolExecutor(len(connections), thread_name_prefix="load") as pool,
        closing(
            prefetched(nonempty, lambda rows: prepare(spec, rows, tenant, partial))
        ) as prepared,
    ):
        try:
            for chunk in prepared:
                in_flight.append(pool.submit(load, chunk))
                while in_flight and (len(in_flight) >= len(connections) or in_flight[0].done()):
                    fold(in_flight.popleft())
        finally:  # chunks that committed count, also when a stop or a failure ends the load
            for future in in_flight:
                if future.exception() is None:
                    fold(future)
        for future in in_flight:
            future.result()  # a chunk that failed fails the load
    return totals, rejects


def _load(cur: cursor, chunk: Chunk, drop_held: bool) -> LoadCounts:
    """COPY into the target if the chunk's key range is empty there; else settle the rows
    whose fingerprint and version say they are known, and upsert the rest through the
    stage table (which also serves the superseded held rows' deletion)."""
    spec, tenant = chunk.spec, chunk.tenant
    direct = copy_into_empty_range(cur, chunk)
    if direct is Direct.LOADED and not drop_held:
        return LoadCounts(inserted=chunk.height)
    settled = LoadCounts()
    if direct is Direct.RANGE_STORED and not drop_held:
        if range_unchanged(cur, chunk):
            return LoadCounts(unchanged=chunk.height)
        settled, to_write = settle_known(cur, chunk)
        if not to_write:
            return settled
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
    return settled + counts


def range_unchanged(cur: cursor, chunk: Chunk) -> bool:
    """Whether the chunk's key range stores exactly the chunk's rows (keys, values and
    versions), told by one aggregate over the range (10-20 ms for 50k rows) instead of
    the probe COPY and its join (~60 ms): the common case of a re-load. Fingerprints hash key
    and values, so equal counts and sums of them mean the same rows, with odds of ~2^-64
    against. Each version is weighed by 1 + 30 bits of its row's fingerprint, so one
    changed version always changes the sum, and versions moved between rows (one newer,
    one older) do unless both rows weigh the same (odds ~2^-30 per pair). Anything else,
    a stored row without a fingerprint included, goes on to `settle_known`."""
    params = {
        "tenant": chunk.tenant,
        "lo": chunk.lo,
        "hi": chunk.hi,
        "rows": chunk.height,
        "mask": WEIGHT_MASK,
    }
    cur.execute(range_summary(chunk.spec), params)
    return tuple(cur.fetchone()) == chunk.summary


def settle_known(cur: cursor, chunk: Chunk) -> tuple[LoadCounts, list[str]]:
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
    cur.execute(settle_statement(spec), params)
    stale, unchanged, to_write = cur.fetchone()
    return LoadCounts(stale=stale, unchanged=unchanged), to_write


def settle_statement(spec: EntitySpec) -> sql.Composable:
    """See `settle_known`; returns (stale, unchanged, keys to write)."""
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
        version=ident(VERSION_FIELD),
        fingerprint=ident(FINGERPRINT),
        batch=ident(BATCH),
        probe=probe(spec),
        target=target(spec),
    )


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
    """Recheck and expire held rows past the max age, then load those whose parents exist."""
    if not spec.parents:
        return LoadCounts()
    with conn, conn.cursor() as cur:
        held.recheck_missing(cur, spec, tenant)
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
