"""The ledger's side of expiry: which batches' files and rejects are old enough to go, and
what went. A batch that has not succeeded, or whose held rows still wait, keeps them all."""

from psycopg2 import sql
from psycopg2.extensions import connection

STAGED = "staged_expired_at"
REPORTS = "reports_expired_at"
REJECTS = "rejects_expired_at"


def expirable(conn: connection, mark: str, older_than_days: float, limit: int) -> list[str]:
    """Succeeded batches finished more than `older_than_days` ago, not yet expired in
    `mark`, holding no rows that wait for a parent; oldest first."""
    statement = sql.SQL(
        "SELECT f.partition_key FROM ingest.files f"
        " WHERE f.status = 'succeeded' AND f.{mark} IS NULL"
        " AND f.finished_at < now() - make_interval(secs => %s)"
        " AND NOT EXISTS (SELECT 1 FROM ingest.held_rows h WHERE h.partition_key = f.partition_key)"
        " ORDER BY f.finished_at LIMIT %s"
    ).format(mark=sql.Identifier(mark))
    with conn, conn.cursor() as cur:
        cur.execute(statement, (older_than_days * 86400, limit))
        return [row[0] for row in cur.fetchall()]


def note(conn: connection, partition_key: str, marks: list[str]) -> None:
    """Note in the batch's ledger row that what `marks` name was expired now."""
    statement = sql.SQL("UPDATE ingest.files SET {} WHERE partition_key = %s").format(
        sql.SQL(", ").join(
            sql.SQL("{m} = coalesce({m}, now())").format(m=sql.Identifier(m)) for m in marks
        )
    )
    with conn, conn.cursor() as cur:
        cur.execute(statement, (partition_key,))


def delete_rejects(conn: connection, partition_key: str, chunk_rows: int) -> int:
    """Delete the batch's rejects, `chunk_rows` a transaction (no long lock on the table
    a person queries), and note how many went; return that count."""
    deleted = 0
    while True:
        with conn, conn.cursor() as cur:
            cur.execute(
                "DELETE FROM ingest.rejects WHERE ctid = ANY(ARRAY("
                " SELECT ctid FROM ingest.rejects WHERE partition_key = %s LIMIT %s))",
                (partition_key, chunk_rows),
            )
            deleted += cur.rowcount
        if cur.rowcount < chunk_rows:
            break
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET rejects_expired_at = now(),"
            " rejects_expired = coalesce(rejects_expired, 0) + %s WHERE partition_key = %s",
            (deleted, partition_key),
        )
    return deleted
