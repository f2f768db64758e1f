"""Resources: the database of record, the landing zone, the staging area, load settings."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import polars as pl
from psycopg2.extensions import connection
from pydantic import PrivateAttr

from import_pipeline.core.errors import FileChanged
from import_pipeline.core.landing import FileRecord
from import_pipeline.db.connect import connected
from import_pipeline.db.migrate import migrate
from import_pipeline.files import local


class PostgresResource(dg.ConfigurableResource):
    """The PostgreSQL database that holds `commerce` and `ingest`; migrated on first use."""

    url: str

    _migrated: bool = PrivateAttr(default=False)

    @contextmanager
    def connect(self) -> Iterator[connection]:
        with connected(self.url) as conn:
            if not self._migrated:
                migrate(conn)
                self._migrated = True
            yield conn


class LandingZone(dg.ConfigurableResource):
    """Where partners drop files: a local folder (S3 is added by `s3_landing_sensor`)."""

    url: str
    settle_seconds: float = 10.0

    @property
    def is_s3(self) -> bool:
        return self.url.startswith("s3://")

    def list_files(self) -> list[FileRecord]:
        return local.list_folder(Path(self.url))

    def read(self, uri: str, version: str, file_name: str) -> bytes:
        """The file's bytes, refusing a file whose version changed since it landed: that
        version is a batch of its own, and loading it here would load it twice."""
        path = local.path_of(uri)
        if not path.exists() or local.version_of(path) != version:
            raise FileChanged(
                file_name,
                "the file was changed or removed after it landed",
                "Nothing to fix here: a changed file is loaded as a new batch of its own.",
            )
        return path.read_bytes()


class StagingArea(dg.ConfigurableResource):
    """Where staged Parquet and rejects CSVs are written between steps (a local folder)."""

    url: str

    def path(self, partition_key: str, name: str) -> str:
        return str(Path(self.url) / partition_key / name)

    def write_parquet(
        self, frame: pl.DataFrame, partition_key: str, name: str, row_group: int
    ) -> str:
        path = Path(self.path(partition_key, name))
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(path, row_group_size=row_group)
        return str(path)

    def write_bytes(self, data: bytes, partition_key: str, name: str) -> str:
        path = Path(self.path(partition_key, name))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return str(path)

    def scan_parquet(self, partition_key: str, name: str) -> pl.LazyFrame:
        return pl.scan_parquet(self.path(partition_key, name))


class ImportSettings(dg.ConfigurableResource):
    """Knobs of a load; override per run in the launchpad or per deployment here."""

    max_reject_rate: float = 0.10
    chunk_rows: int = 50_000
    held_max_age_hours: float = 72.0


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "postgres": PostgresResource(url=dg.EnvVar("DATABASE_URL")),
            "landing": LandingZone(url=dg.EnvVar("IMPORT_LANDING_URL")),
            "staging": StagingArea(url=dg.EnvVar("IMPORT_STAGING_URL")),
            "settings": ImportSettings(),
        }
    )
