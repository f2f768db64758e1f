"""The ledger's record of processed-prefix moves: which succeeded batches (and identical
re-sends of them) still lie in the live landing prefix, and where each one went."""

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


def moved(conn: connection, partition_key: str, target: str | None, version: str | None) -> None:
    """The move is over: the batch is at `target` with `version` there, or left in place
    (None) because its files changed since it loaded."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET processed_uri = %s, processed_version = %s,"
            " processed_at = now() WHERE partition_key = %s",
            (target, version, partition_key),
        )


@dataclass(frozen=True)
class Copy:
    """Where a batch's files were moved, and their version there (None: moved before
    migration 017 recorded it, or a move under way)."""

    uri: str
    version: str | None


def copy_of(conn: connection, partition_key: str) -> Copy | None:
    """Where the processed-prefix mode moved the batch, None if it did not."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT processed_uri, processed_version FROM ingest.files"
            " WHERE partition_key = %s AND processed_uri IS NOT NULL",
            (partition_key,),
        )
        row = cur.fetchone()
    return Copy(*row) if row else None


def note_redrops(conn: connection, partition_keys: list[str]) -> list[str]:
    """Record, among batches found in the live prefix again, those that loaded and moved
    already (an identical re-send); the keys newly recorded (a re-send already waiting for
    its move is not recorded twice)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO ingest.redrops (partition_key, seq) SELECT f.partition_key,"
            " (SELECT count(*) + 1 FROM ingest.redrops r WHERE r.partition_key = f.partition_key)"
            " FROM ingest.files f WHERE f.partition_key = ANY(%s) AND status = 'succeeded'"
            " AND processed_at IS NOT NULL AND processed_uri IS NOT NULL"
            " ON CONFLICT (partition_key) WHERE processed_at IS NULL DO NOTHING"
            " RETURNING partition_key",
            (partition_keys,),
        )
        return [row[0] for row in cur.fetchall()]


@dataclass(frozen=True)
class Redrop:
    """An identical re-send waiting to leave the live prefix (`target` set: a move under
    way, to resume)."""

    id: int
    seq: int
    partition_key: str
    uri: str
    version: str
    found_at: datetime
    target: str | None


def unmoved_redrops(conn: connection, root_uri: str, limit: int) -> list[Redrop]:
    """Up to `limit` re-sends below `root_uri` still in the live prefix, the oldest first."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT r.id, r.seq, f.partition_key, f.uri, f.version, r.found_at, r.processed_uri"
            " FROM ingest.redrops r JOIN ingest.files f USING (partition_key)"
            " WHERE r.processed_at IS NULL AND starts_with(f.uri, %s) ORDER BY r.id LIMIT %s",
            (root_uri, limit),
        )
        return [Redrop(*row) for row in cur.fetchall()]


def claim_redrop(conn: connection, redrop: int, target: str) -> None:
    """Record where the re-send is going before its first file moves (see `claim`)."""
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE ingest.redrops SET processed_uri = %s WHERE id = %s", (target, redrop))


def redrop_moved(conn: connection, redrop: int, target: str | None) -> None:
    """The re-send is at `target` now; with None it was gone or changed before it moved
    (a change is a batch of its own), so there was no re-send to record."""
    with conn, conn.cursor() as cur:
        if target is None:
            cur.execute("DELETE FROM ingest.redrops WHERE id = %s", (redrop,))
        else:
            cur.execute(
                "UPDATE ingest.redrops SET processed_uri = %s, processed_at = now() WHERE id = %s",
                (target, redrop),
            )
