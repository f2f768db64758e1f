"""A purge sequenced below Dagster: recorded in `ingest.purges` before it deletes, and
finished there with its counts, or with the error that stopped it."""

from psycopg2.extensions import connection

from import_pipeline.core.purge import PurgePlan
from import_pipeline.db import purge as purges
from import_pipeline.db.failures import describe


def run_purge(
    conn: connection, plan: PurgePlan, run_id: str, chunk_rows: int, lock_wait_ms: int
) -> tuple[int, purges.PurgeCounts]:
    """The purge's id and what it deleted; a failure is recorded before it is raised."""
    purge_id = purges.start(conn, plan, run_id)
    counts = purges.PurgeCounts()
    try:
        counts = purges.purge(conn, plan, chunk_rows, lock_wait_ms)
    except Exception as exc:
        purges.finish(conn, purge_id, counts, describe(exc))
        raise
    purges.finish(conn, purge_id, counts, None)
    return purge_id, counts
