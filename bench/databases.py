"""The benchmark's Postgres: one server (embedded unless `DATABASE_URL` is set) and a
fresh, migrated database per measurement, so no loader profits from another's rows,
cache of parsed plans or bloat."""

import os
import uuid
from pathlib import Path
from urllib.parse import quote

import psutil
import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection

from import_pipeline.db.connect import connected, embedded_server_url
from import_pipeline.db.migrate import migrate


def server_url(work: Path) -> str:
    """`DATABASE_URL` when set (a real server), else an embedded server under `work`."""
    return os.environ.get("DATABASE_URL") or embedded_server_url(work / "pgdata")


def with_database(url: str, name: str) -> str:
    """The same server's libpq DSN pointing at database `name` (socket or TCP alike)."""
    dsn = psycopg2.extensions.parse_dsn(url)
    dsn["dbname"] = name
    return " ".join(f"{k}={v}" for k, v in dsn.items())


def sqlalchemy_url(dsn: str) -> str:
    """A `postgresql+psycopg2://` URL for the same database: SQLAlchemy 2.1 would pick
    psycopg 3 for a plain `postgresql://` URL, and the embedded server's URL is a Unix
    socket (`host=/dir`), which goes into the query string."""
    parts = psycopg2.extensions.parse_dsn(dsn)
    user = quote(parts.get("user", "postgres"), safe="")
    password = parts.get("password")
    auth = f"{user}:{quote(password, safe='')}" if password else user
    host = parts.get("host", "")
    port = parts.get("port")
    database = parts.get("dbname", "postgres")
    if host.startswith("/"):
        query = f"?host={quote(host, safe='/')}" + (f"&port={port}" if port else "")
        return f"postgresql+psycopg2://{auth}@/{database}{query}"
    netloc = host + (f":{port}" if port else "")
    return f"postgresql+psycopg2://{auth}@{netloc}/{database}"


def fresh_database(server: str, label: str) -> str:
    """Create an empty database, apply the project's migrations, return its DSN."""
    name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(server)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        admin.close()
    dsn = with_database(server, name)
    with connected(dsn) as conn:
        migrate(conn)
    return dsn


def checkpoint(server: str) -> None:
    """Flush the server's dirty pages before a measurement, so that one loader does not pay
    for the checkpoint another one's writes made due (best effort: CHECKPOINT needs a
    superuser or pg_checkpoint, which a DATABASE_URL may not have)."""
    admin = psycopg2.connect(server)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute("CHECKPOINT")
    except psycopg2.errors.InsufficientPrivilege:
        pass
    finally:
        admin.close()


def drop_database(server: str, dsn: str) -> None:
    name = psycopg2.extensions.parse_dsn(dsn)["dbname"]
    admin = psycopg2.connect(server)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        admin.close()


def table_counts(dsn: str) -> dict[str, int]:
    """Rows in each commerce table and in ingest.held_rows."""
    counts = {}
    with connected(dsn) as conn, conn.cursor() as cur:
        for table in ("customers", "products", "orders", "line_items"):
            cur.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("commerce", table))
            )
            counts[table] = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM ingest.held_rows")
        counts["held"] = cur.fetchone()[0]
    return counts


def server_version(dsn: str) -> str:
    with connected(dsn) as conn, conn.cursor() as cur:
        cur.execute("SHOW server_version")
        return cur.fetchone()[0]


def copy_statement(entity: str, columns: str) -> sql.Composed:
    """A CSV COPY into a commerce table, its columns named as in the file's header line."""
    return sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        sql.Identifier("commerce", entity),
        sql.SQL(", ").join(sql.Identifier(c) for c in columns.split(",")),
    )


def copy_file(conn: connection, entity: str, path: Path) -> None:
    """COPY a plain CSV with a header line into its commerce table, in one transaction."""
    with path.open("rb") as handle, conn, conn.cursor() as cur:
        header = handle.readline().decode().strip()
        cur.copy_expert(copy_statement(entity, header).as_string(cur), handle, size=1 << 20)


def backend_cpu(process: psutil.Process) -> float:
    """A backend's CPU seconds so far (user + system; time spent waiting is not in it)."""
    times = process.cpu_times()
    return times.user + times.system
