"""The ledger's record of a batch's schema drift."""

import json

from psycopg2.extensions import connection


def record(conn: connection, partition_key: str, drift: dict) -> None:
    """Replace the batch's drift (a re-run of the batch judges its files again)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.files SET drift = %s WHERE partition_key = %s",
            (json.dumps(drift), partition_key),
        )


def recorded(conn: connection, partition_key: str) -> tuple[dict, str | None]:
    """The batch's recorded drift (empty before staging judged it) and its profile."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT drift, profile FROM ingest.files WHERE partition_key = %s", (partition_key,)
        )
        row = cur.fetchone()
    return (row[0] or {}, row[1]) if row else ({}, None)
