"""The ledger's record of processed-prefix moves: which succeeded batches still lie in the
live landing prefix, and where each one went."""

from dataclasses import dataclass
from datetime import datetime

from psycopg2.extensions import connection


@dataclass(frozen=True)
class Succeeded:
    """A succeeded batch not yet moved (`target` set: a move under way, to resume)."""

    partition_key: str
    uri: str
    version: str
    finished_at: datetime
    target: str | None


def unmoved(conn: connection, root_uri: str, limit: int) -> list[Succeeded]:
    """Up to `limit` succeeded batches below `root_uri` whose files are still in place,
    the longest finished first."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT partition_key, uri, version, finished_at, processed_uri FROM ingest.files"
            " WHERE status = 'succeeded' AND processed_at IS NULL AND starts_with(uri, %s)"
            " ORDER BY finished_at LIMIT %s",
            (root_uri, limit),
        )
        return [Succeeded(*row) for row in cur.fetchall()]


def claim(conn: connection, partition_key: str, target: str) -> None:
    """Record where the batch is going before its first file moves, so a move cut short
    is resumed without checking the half-moved batch's version again."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET processed_uri = %s WHERE partition_key = %s",
            (target, partition_key),
        )


def moved(conn: connection, partition_key: str, target: str | None) -> None:
    """The move is over: the batch is at `target`, or left in place (None) because its
    files changed since it loaded."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET processed_uri = %s, processed_at = now()"
            " WHERE partition_key = %s",
            (target, partition_key),
        )
