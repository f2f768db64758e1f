"""The ledger's side of partition retention: which batches' Dagster partitions may go."""

from psycopg2.extensions import connection

ENDED = ("succeeded", "failed", "cancelled")


def prunable(conn: connection, older_than_days: float, limit: int) -> list[str]:
    """Batches that ended more than `older_than_days` ago and still have a partition."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT partition_key FROM ingest.files WHERE status = ANY(%s)"
            " AND partition_pruned_at IS NULL"
            " AND coalesce(finished_at, registered_at) < now() - make_interval(secs => %s)"
            " ORDER BY coalesce(finished_at, registered_at) LIMIT %s",
            (list(ENDED), older_than_days * 86400, limit),
        )
        return [row[0] for row in cur.fetchall()]


def note_pruned(conn: connection, keys: list[str]) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET partition_pruned_at = now() WHERE partition_key = ANY(%s)",
            (keys,),
        )


def restored(conn: connection, partition_key: str) -> None:
    """The batch has a partition again (re-run by its URI)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET partition_pruned_at = NULL WHERE partition_key = %s",
            (partition_key,),
        )


def latest_by_uri(conn: connection, uri: str) -> str | None:
    """The partition key of the latest batch registered for `uri`."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT partition_key FROM ingest.files WHERE uri = %s"
            " ORDER BY registered_at DESC LIMIT 1",
            (uri,),
        )
        row = cur.fetchone()
    return row[0] if row else None
