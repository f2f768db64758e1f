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
