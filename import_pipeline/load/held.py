"""Held rows' turn in a load: expire those past the max age, release those whose parents
exist now (the statements are `db/held.py`'s)."""

from psycopg2.extensions import connection, cursor

from import_pipeline.core.entities import EntitySpec
from import_pipeline.core.report import LoadCounts
from import_pipeline.db import held
from import_pipeline.db.retry import with_retry
from import_pipeline.db.sql import create_stage
from import_pipeline.db.upsert import write_staged


def expire_and_release(
    conn: connection, spec: EntitySpec, tenant: str, max_age_seconds: float
) -> LoadCounts:
    """Recheck and expire held rows past the max age, then release those whose parents
    exist: an expired row names only the parents still missing."""
    if not spec.parents:
        return LoadCounts()
    with conn, conn.cursor() as cur:
        held.recheck_missing(cur, spec, tenant)
        expired = held.expire(cur, spec, tenant, max_age_seconds)
    return LoadCounts(expired=expired, resolved=release(conn, spec, tenant))


def release(conn: connection, spec: EntitySpec, tenant: str) -> int:
    """Load every held row of this entity whose parents exist now; return how many."""
    if not spec.parents:
        return 0

    def released(cur: cursor) -> int:
        cur.execute(create_stage(spec))
        row_count = held.release_ready(cur, spec, tenant)
        if row_count:
            write_staged(cur, spec, tenant, row_count)
        return row_count

    return with_retry(conn, released)
