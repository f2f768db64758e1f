"""What import_pipeline is compared with, on the same rows and the same server.

- `raw_copy`: COPY of the files straight into the keyed, FK-checked `commerce` tables of
  a freshly migrated database, in FK order: the limit (no validation, no upsert).
- `seed_style`: what many seed systems do: pandas `read_csv` in 1,000-row chunks and one
  SQLAlchemy `insert(..).on_conflict_do_update(..)` per chunk, committed per chunk.
- `dlt_merge`: dlt's merge into Postgres, only when `import dlt` works (extra `bench-dlt`).

Each returns the rows it loaded and notes; the caller times it and reads peak RSS.
"""

import gzip
import importlib.util
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import polars as pl
import psycopg2
from psycopg2 import sql

from bench.databases import copy_statement, sqlalchemy_url
from bench.generate import ENTITY_ORDER, Drop
from import_pipeline.core.entities import ENTITIES
from import_pipeline.core.landing import DEFAULT_TENANT
from import_pipeline.db.connect import connected

if TYPE_CHECKING:
    from dlt.destinations.impl.postgres.configuration import PostgresCredentials

SEED_CHUNK_ROWS = 1_000


@dataclass
class Outcome:
    """What a loader did: rows it sent, per-phase seconds, and anything to footnote."""

    rows: int
    notes: list[str] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    setup_s: float = 0.0
    """Seconds of one-off setup inside the loader that the wall time leaves out."""


def copy_source(drop: Drop, entity: str) -> tuple[Path, str]:
    """The file COPY and pandas read for `entity`: the landed file when it is CSV (plain or
    gzipped), else the plain CSV of the same rows (neither reads Parquet natively)."""
    if drop.spec.format in ("csv", "csv.gz"):
        return drop.files[entity], drop.spec.format
    return drop.csv_files[entity], "csv"


@contextmanager
def _open(path: Path, file_format: str) -> Iterator[BinaryIO]:
    opener = gzip.open if file_format == "csv.gz" else open
    with opener(path, "rb") as handle:
        yield handle


def prepare_raw_copy(dsn: str) -> None:
    """Give tenant and _batch defaults, so COPY can take the files' columns as they are
    (untimed: a real COPY loader would have its own table layout)."""
    with connected(dsn) as conn, conn, conn.cursor() as cur:
        for entity in ENTITY_ORDER:
            cur.execute(
                sql.SQL(
                    "ALTER TABLE {} ALTER COLUMN tenant SET DEFAULT {},"
                    " ALTER COLUMN _batch SET DEFAULT 'raw-copy'"
                ).format(sql.Identifier("commerce", entity), sql.Literal(DEFAULT_TENANT))
            )


def raw_copy(dsn: str, drop: Drop) -> Outcome:
    """COPY each file into its table, parents first, one transaction per table."""
    outcome = Outcome(rows=0)
    if drop.spec.format == "parquet":
        outcome.notes.append("COPY reads the plain CSV of the same rows")
    with connected(dsn, "bench_raw_copy") as conn:
        for entity in ENTITY_ORDER:
            path, file_format = copy_source(drop, entity)
            started = time.monotonic()
            with _open(path, file_format) as handle, conn, conn.cursor() as cur:
                header = handle.readline().decode().strip()
                statement = copy_statement(entity, header).as_string(cur)
                cur.copy_expert(statement, handle, size=1 << 20)
                outcome.rows += cur.rowcount
            outcome.phases[entity] = time.monotonic() - started
    return outcome


def seed_style(dsn: str, drop: Drop, chunk_rows: int = SEED_CHUNK_ROWS) -> Outcome:
    """pandas chunks + one SQLAlchemy ON CONFLICT DO UPDATE statement and commit per chunk."""
    import pandas as pd
    from sqlalchemy import MetaData, Table, create_engine
    from sqlalchemy.dialects.postgresql import insert

    outcome = Outcome(rows=0)
    if drop.spec.format == "parquet":
        outcome.notes.append("pandas reads the plain CSV (no pyarrow installed)")
    engine = create_engine(sqlalchemy_url(dsn))
    try:
        metadata = MetaData(schema="commerce")
        for entity in ENTITY_ORDER:
            spec = ENTITIES[entity]
            table = Table(entity, metadata, autoload_with=engine)
            path, file_format = copy_source(drop, entity)
            reader = pd.read_csv(
                path,
                chunksize=chunk_rows,
                dtype=str,
                keep_default_na=False,
                compression="gzip" if file_format == "csv.gz" else None,
            )
            for chunk in reader:
                records = [
                    {k: (v if v != "" else None) for k, v in row.items()}
                    | {"tenant": DEFAULT_TENANT, "_batch": "seed-style"}
                    for row in chunk.to_dict("records")
                ]
                statement = insert(table).values(records)
                statement = statement.on_conflict_do_update(
                    index_elements=["tenant", spec.key],
                    set_={
                        c: statement.excluded[c]
                        for c in records[0]
                        if c not in ("tenant", spec.key)
                    },
                )
                with engine.begin() as conn:
                    conn.execute(statement)
                outcome.rows += len(records)
    finally:
        engine.dispose()
    return outcome


def dlt_available() -> bool:
    """Whether dlt is installed, without importing it into the runner: a measuring
    process's peak RSS (ru_maxrss) includes its forked copy of the runner before exec, so
    dlt and pyarrow imported here read as ~40 MB more for raw COPY (113 against 74 MB)."""
    return importlib.util.find_spec("dlt") is not None


def dlt_merge(dsn: str, drop: Drop) -> Outcome:
    """dlt's `merge` write disposition into Postgres (its own tables, in its own dataset
    schema, without FKs), keyed like ours, the way dlt is fastest on Postgres: each file
    read whole into an Arrow table (polars infers the types) and loaded with the `csv`
    loader format (COPY into dlt's staging tables, then its delete-insert merge). All four
    tables go in one `pipeline.run`, so dlt's load workers may take them side by side.
    Only runs when the `bench-dlt` extra is installed; dlt's anonymous telemetry is off
    (this machine may not reach its endpoint, and a measurement should not wait on it)."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    import dlt

    outcome = Outcome(rows=0)
    if drop.spec.format == "parquet":
        outcome.notes.append("dlt reads the plain CSV of the same rows")
    resources = []
    for entity in ENTITY_ORDER:
        path, _ = copy_source(drop, entity)
        table = pl.read_csv(path, try_parse_dates=True).to_arrow()
        resources.append(
            dlt.resource(
                [table], name=entity, write_disposition="merge", primary_key=ENTITIES[entity].key
            )
        )
    with tempfile.TemporaryDirectory(prefix="dlt-") as pipelines_dir:
        pipeline = dlt.pipeline(
            pipeline_name="bench_dlt",
            destination=dlt.destinations.postgres(credentials=dlt_credentials(dsn)),
            dataset_name="dlt_bench",
            pipelines_dir=pipelines_dir,
        )
        pipeline.run(resources, loader_file_format="csv")
    with connected(dsn) as conn, conn, conn.cursor() as cur:
        for entity in ENTITY_ORDER:
            cur.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("dlt_bench", entity))
            )
            outcome.rows += cur.fetchone()[0]
    outcome.notes.append("arrow + COPY (csv loader format); dlt tables have no FKs")
    return outcome


def dlt_credentials(dsn: str) -> "PostgresCredentials":
    """dlt's credentials for our libpq DSN. dlt insists on a host and a password: a Unix
    socket directory (the embedded server) goes in as libpq's `host` query parameter, and
    a server that trusts the socket gets a placeholder password it never asks for. Other
    libpq parameters (`sslmode`, ...) go in as query parameters too."""
    from dlt.destinations.impl.postgres.configuration import PostgresCredentials

    parts = psycopg2.extensions.parse_dsn(dsn)
    credentials = PostgresCredentials()
    credentials.database = parts.pop("dbname", "postgres")
    credentials.username = parts.pop("user", "postgres")
    credentials.password = parts.pop("password", None) or "unused"
    credentials.port = int(parts.pop("port", 5432))
    host = parts.pop("host", "localhost")
    if host.startswith("/"):
        parts["host"], host = host, "localhost"
    credentials.host, credentials.query = host, parts
    return credentials
