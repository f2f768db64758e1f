"""The ledger's side of a replay: where a replayed row was rejected, and which batch the
replay corrects."""

from psycopg2.extensions import connection

from import_pipeline.core.replay import Rejected


def rejected_sources(
    conn: connection, tenant: str, replay_key: str, sources: list[str]
) -> dict[str, Rejected]:
    """For each `<file>:<row>` among `sources`, the latest other batch of the tenant that
    rejected it, and the entity it was rejected from."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT ON (r.source) r.source, r.partition_key, r.entity"
            " FROM ingest.files f JOIN ingest.rejects r ON r.partition_key = f.partition_key"
            " WHERE f.tenant = %s AND f.partition_key <> %s AND r.source = ANY(%s)"
            " ORDER BY r.source, f.registered_at DESC",
            (tenant, replay_key, sources),
        )
        return {source: Rejected(key, entity) for source, key, entity in cur.fetchall()}


def record_correction(conn: connection, replay_key: str, corrects: str | None) -> None:
    """Point the replay's ledger row at the batch it corrects (NULL: none is known)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET corrects = %s WHERE partition_key = %s",
            (corrects, replay_key),
        )


def profile_of(conn: connection, partition_key: str) -> str | None:
    """The profile the ledger registered a batch with."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT profile FROM ingest.files WHERE partition_key = %s", (partition_key,))
        row = cur.fetchone()
    return row[0] if row else None
