"""The file ledger (`ingest.files`) and the rejects table: every batch's history in SQL.

The landing sensor registers a batch (its URI, version and landing time, recorded once so
a re-run of an old partition keeps its original version); each asset of the batch's run
then records its progress, counts and, on failure, the error.
"""

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

import polars as pl
from psycopg2 import sql
from psycopg2.extensions import connection, cursor

from import_pipeline.core.columns import ERRORS, ROW, SOURCE
from import_pipeline.core.errors import LoadCancelled
from import_pipeline.core.parse import list_as_json
from import_pipeline.db.copy import copy_rows, csv_rows
from import_pipeline.db.failures import describe, is_transient, original_error

log = logging.getLogger(__name__)

REJECTS = sql.Identifier("ingest", "rejects")


@dataclass(frozen=True)
class Batch:
    """A landed batch as the ledger knows it."""

    partition_key: str
    uri: str
    tenant: str
    profile: str
    version: str
    landed_at: datetime

    @property
    def file_name(self) -> str:
        return unquote(self.uri.rstrip("/").rsplit("/", 1)[-1])


def register(conn: connection, batches: list[Batch]) -> set[str]:
    """Record newly landed batches, in one statement however many; a batch already known
    keeps its row as it is. Return the keys that were new to the ledger."""
    columns = (
        list(
            zip(
                *(
                    (b.partition_key, b.uri, b.tenant, b.profile, b.version, b.landed_at)
                    for b in batches
                ),
                strict=True,
            )
        )
        or [[]] * 6
    )
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO ingest.files (partition_key, uri, tenant, profile, version, landed_at)"
            " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[],"
            " %s::timestamptz[]) ON CONFLICT (partition_key) DO NOTHING RETURNING partition_key",
            [list(c) for c in columns],
        )
        return {row[0] for row in cur.fetchall()}


def needing_runs(conn: connection, keys: list[str]) -> set[str]:
    """Of `keys`, those unknown to the ledger or registered but never started."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT k FROM unnest(%s::text[]) k LEFT JOIN ingest.files f ON f.partition_key = k"
            " WHERE f.partition_key IS NULL OR f.status = 'queued'",
            (keys,),
        )
        return {row[0] for row in cur.fetchall()}


def get(conn: connection, partition_key: str) -> Batch | None:
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT partition_key, uri, tenant, profile, version, landed_at"
            " FROM ingest.files WHERE partition_key = %s",
            (partition_key,),
        )
        row = cur.fetchone()
    return Batch(*row) if row else None


def start(conn: connection, partition_key: str, run_id: str) -> None:
    """Mark the batch running under `run_id`, clearing what an earlier attempt left."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET status = 'running', run_id = %s, rows_total = NULL,"
            " rows_done = 0, counts = '{}', error = NULL, retryable = NULL, started_at = now(),"
            " finished_at = NULL WHERE partition_key = %s",
            (run_id, partition_key),
        )


def set_total(conn: connection, partition_key: str, rows_total: int) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET rows_total = %s WHERE partition_key = %s",
            (rows_total, partition_key),
        )


def resume(
    conn: connection, partition_key: str, run_id: str, reloading: list[str], rows_reloading: int
) -> None:
    """Claim the staged batch for the entity loads of `run_id` (the run that staged it, a
    retry of the step, or a re-execution from failure): running under this run, without
    the counts of the entities it loads again, and `rows_done` what the others loaded."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET status = 'running', run_id = %s, error = NULL,"
            " retryable = NULL, finished_at = NULL, counts = counts - %s::text[],"
            " rows_done = greatest(coalesce(rows_total, 0) - %s, 0) WHERE partition_key = %s",
            (run_id, reloading, rows_reloading, partition_key),
        )


Connect = Callable[[], AbstractContextManager[connection]]
"""Opens a new connection to the database of record."""


@contextmanager
def failures_recorded(connect: Connect, partition_key: str, run_id: str) -> Iterator[None]:
    """Mirror how the block ended abnormally into the ledger row, on a fresh connection (the
    block's own may be the one the server dropped): `cancelled` when a person stopped the
    run, else `failed` with the original error and whether a retry can heal it. Then the
    original error propagates, not psycopg2's `connection already closed` over it."""
    try:
        yield
    except BaseException as exc:
        record_end(connect, partition_key, run_id, exc)
        cause = original_error(exc)
        if cause is exc:
            raise
        raise cause from cause.__cause__


def record_end(connect: Connect, partition_key: str, run_id: str, exc: BaseException) -> None:
    """How `exc` ended the batch's run: `cancelled` for a stop (an interrupt is a
    BaseException only), else `failed`; a
    ledger that cannot be written now (the server is down) is logged, never raised over
    the error itself: the reconciliation finds the run dead and marks it."""
    try:
        with connect() as fresh:
            if isinstance(exc, LoadCancelled) or not isinstance(exc, Exception):
                cancel(fresh, partition_key, run_id)
            else:
                fail(fresh, partition_key, run_id, describe(exc), retryable=is_transient(exc))
    except Exception as ledger_error:
        log.warning("ledger row %s not updated: %s", partition_key, ledger_error)


def record(conn: connection, partition_key: str, step: str, counts: dict) -> None:
    """Merge one step's counts into the ledger row (`counts -> step -> {...}`)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET counts = counts || jsonb_build_object(%s::text, %s::jsonb)"
            " WHERE partition_key = %s",
            (step, json.dumps(counts), partition_key),
        )


def progress(conn: connection, partition_key: str, rows_done_delta: int) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET rows_done = least(rows_done + %s,"
            " coalesce(rows_total, rows_done + %s)) WHERE partition_key = %s",
            (rows_done_delta, rows_done_delta, partition_key),
        )


def step_counts(conn: connection, partition_key: str, step: str) -> dict | None:
    """One step's recorded counts, or None if it has not recorded any yet."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT counts -> %s FROM ingest.files WHERE partition_key = %s",
            (step, partition_key),
        )
        row = cur.fetchone()
    return row[0] if row else None


def finish_if_complete(conn: connection, partition_key: str, steps: list[str]) -> bool:
    """Mark the batch succeeded once every one of `steps` has recorded its counts, so the
    order the entity assets finish in (or a re-execution of some of them) does not matter."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET status = 'succeeded', finished_at = now(), error = NULL"
            " WHERE partition_key = %s AND counts ?& %s::text[]",
            (partition_key, steps),
        )
        return cur.rowcount == 1


def fail(conn: connection, partition_key: str, run_id: str, error: str, *, retryable: bool) -> None:
    """Record why the batch failed and whether the reconciliation may retry it (a person
    must act on a failure that is not retryable)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET status = 'failed', error = %s, retryable = %s,"
            " run_id = %s, finished_at = now() WHERE partition_key = %s",
            (error, retryable, run_id, partition_key),
        )


CANCELLED = "cancelled by a person (Terminate)"


def cancel(conn: connection, partition_key: str, run_id: str) -> None:
    """Record that a person stopped the batch's run: the reconciliation leaves it alone,
    and `rows_done` keeps what was loaded before the stop. A batch that had finished
    loading stays `succeeded`; one of its loads that failed meanwhile is cancelled too."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET status = 'cancelled', error = %s, retryable = false,"
            " run_id = %s, finished_at = now()"
            " WHERE partition_key = %s AND status IN ('running', 'failed')",
            (CANCELLED, run_id, partition_key),
        )


def fail_unfinished(conn: connection, partition_key: str, run_id: str, error: str) -> None:
    """Mark the batch failed if `run_id` ended without recording an outcome (its worker
    was killed): only a row still queued or running under that run, never a later one's."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET status = 'failed', error = %s, run_id = %s,"
            " finished_at = now() WHERE partition_key = %s"
            " AND status IN ('queued', 'running') AND (run_id IS NULL OR run_id = %s)",
            (error, run_id, partition_key, run_id),
        )


def save_rejects(
    conn: connection, partition_key: str, entity: str, rejects: Iterable[pl.DataFrame]
) -> None:
    """Replace this batch's rejects of `entity` (idempotent on re-runs) through COPY, part
    by part (a large file's rejects never sit in memory whole)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "DELETE FROM ingest.rejects WHERE partition_key = %s AND entity = %s",
            (partition_key, entity),
        )
        for part in rejects:
            if part.height:
                _copy_rejects(cur, partition_key, entity, part)


def _copy_rejects(cur: cursor, partition_key: str, entity: str, rejects: pl.DataFrame) -> None:
    raw_columns = [c for c in rejects.columns if c not in (ROW, ERRORS, SOURCE)]
    raw = pl.struct(raw_columns).struct.json_encode() if raw_columns else pl.lit("{}")
    frame = rejects.select(
        pl.lit(partition_key).alias("partition_key"),
        pl.lit(entity).alias("entity"),
        pl.col(ROW).alias("source_row"),
        list_as_json(pl.col(ERRORS)).alias("errors"),
        raw.alias("raw"),
        (pl.col(SOURCE) if SOURCE in rejects.columns else pl.lit(None, pl.String)).alias("source"),
    )
    copy_rows(cur, REJECTS, frame.columns, csv_rows(frame))


def save_db_rejects(conn: connection, partition_key: str, entity: str, rejects: list) -> None:
    """Record rows the database refused (each a `DbReject`) next to the validation rejects."""
    with conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO ingest.rejects (partition_key, entity, source_row, errors, raw)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (partition_key, entity, source_row)"
            " DO UPDATE SET errors = EXCLUDED.errors, raw = EXCLUDED.raw",
            [
                (
                    partition_key,
                    entity,
                    r.source_row,
                    json.dumps([r.error]),
                    json.dumps(r.row, default=str),
                )
                for r in rejects
            ],
        )


def reconcilable(conn: connection, keys: list[str], stuck_after_hours: float) -> set[str]:
    """Of `keys`, those the reconciliation should (re)request: unknown to the ledger,
    failed for a reason a retry can heal (never a named file error, never a cancelled
    batch), or queued / running for longer than `stuck_after_hours` (a run lost with its
    daemon or worker never finishes on its own)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT k FROM unnest(%s::text[]) k LEFT JOIN ingest.files f ON f.partition_key = k"
            " WHERE f.partition_key IS NULL OR (f.status = 'failed' AND f.retryable IS NOT FALSE)"
            " OR (f.status IN ('queued', 'running')"
            "     AND coalesce(f.started_at, f.registered_at) < now() - make_interval(secs => %s))",
            (keys, stuck_after_hours * 3600),
        )
        return {row[0] for row in cur.fetchall()}


def running(conn: connection, keys: list[str]) -> dict[str, str]:
    """Of `keys`, those the ledger has running, with the id of the run that claimed them."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT partition_key, run_id FROM ingest.files"
            " WHERE partition_key = ANY(%s) AND status = 'running' AND run_id IS NOT NULL",
            (keys,),
        )
        return dict(cur.fetchall())


def outcome(conn: connection, partition_key: str) -> dict | None:
    """The ledger row's status, counts, totals, error and report files, as a notification
    reports them."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT uri, tenant, profile, status, rows_total, rows_done, counts, error,"
            " rejects_file, duplicates_file FROM ingest.files WHERE partition_key = %s",
            (partition_key,),
        )
        row = cur.fetchone()
        names = [column.name for column in cur.description]
    return dict(zip(names, row, strict=True)) if row else None
