"""Resources: the database of record, the landing zone, the staging area, load settings.

The landing zone and the staging area are each a local folder or an `s3://bucket/prefix`;
S3 goes through `S3Connection`, whose endpoint comes from its config or the standard
`AWS_ENDPOINT_URL` variable (MinIO, moto), credentials from the usual AWS_* ones.
"""

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from psycopg2.extensions import connection
from pydantic import PrivateAttr

from import_pipeline.core.errors import FileChanged
from import_pipeline.core.landing import (
    MANIFEST,
    FileRecord,
    LandedBatch,
    Window,
    folder_members,
    folder_version,
    plan,
)
from import_pipeline.core.manifest import Manifest, parse_manifest
from import_pipeline.core.stage import DEFAULT_MAX_REJECT_RATE, LandedFile
from import_pipeline.db.connect import connected
from import_pipeline.db.migrate import migrate
from import_pipeline.files import local, s3
from import_pipeline.files.s3 import S3Location


class PostgresResource(dg.ConfigurableResource):
    """The PostgreSQL database that holds `commerce` and `ingest`; migrated on first use."""

    url: str

    _migrated: bool = PrivateAttr(default=False)

    @contextmanager
    def connect(self, application_name: str = "import_pipeline") -> Iterator[connection]:
        """A new connection, named in pg_stat_activity by what it is for."""
        with connected(self.url, application_name) as conn:
            if not self._migrated:
                migrate(conn)
                self._migrated = True
            yield conn


class S3Connection(dg.ConfigurableResource):
    """How to reach S3 (AWS, MinIO, moto); an empty field leaves it to boto3's own lookup
    (AWS_ENDPOINT_URL, AWS_* credentials, ~/.aws). Ours rather than dagster-aws's
    S3Resource: importing dagster_aws costs ~1.7 s in every run process (it pulls in its
    components and dagster's test utilities), a tenth of a small file's landing-to-loaded
    time, and boto3 itself is imported only when S3 is used."""

    endpoint_url: str = ""
    region_name: str = ""
    aws_access_key_id: str = ""
    aws_secret_access_key: str = ""
    aws_session_token: str = ""

    def get_client(self) -> Any:
        import boto3  # here, not at the top: a local landing zone never pays for it

        place = {"endpoint_url": self.endpoint_url, "region_name": self.region_name}
        settings = {k: v for k, v in place.items() if v} | self.credentials()
        return boto3.client("s3", **settings)

    def credentials(self) -> dict[str, str]:
        """The credentials set here (none: polars reads the same AWS_* as boto3)."""
        keys = {
            "aws_access_key_id": self.aws_access_key_id,
            "aws_secret_access_key": self.aws_secret_access_key,
            "aws_session_token": self.aws_session_token,
        }
        return {k: v for k, v in keys.items() if v}


class S3Backed(dg.ConfigurableResource):
    """A resource that may live on S3: one boto3 client per resource instance (building a
    client costs tens of milliseconds; a folder batch reads many files)."""

    url: str
    s3: S3Connection | None = None

    _s3_client: Any = PrivateAttr(default=None)

    @property
    def is_s3(self) -> bool:
        return self.url.startswith("s3://")

    @property
    def location(self) -> S3Location:
        """The bucket and prefix of an `s3://` url."""
        return S3Location.parse(self.url)

    def client(self) -> Any:
        if self._s3_client is None:
            self._s3_client = (self.s3 or S3Connection()).get_client()
        return self._s3_client


class LandingZone(S3Backed):
    """Where partners drop files: a local folder or `s3://bucket/prefix`. With
    `tenant_from_path`, the first folder below the root names the tenant.

    A local file is taken as complete at first sight when it has not been modified for
    `settle_seconds`, else when the next tick (~5 s later) finds it unchanged. 3 s rather
    than a tick or more: waiting a whole tick put a one-row file's landing-to-loaded time
    at up to 15.7 s (5 s to be seen, 5 s to settle, ~5 s to run). A file written with
    longer pauses can be taken half-written: its change is then caught before staging
    (FileChanged) or loads as a new batch; writers should write to a temporary name and
    rename, or complete a folder with a marker."""

    settle_seconds: float = 3.0
    tenant_from_path: bool = False
    max_keys_per_tick: int = 1000

    def list_files(self, under: str = "") -> list[FileRecord]:
        """Every file of the zone (or of its folder `under`), without a bound."""
        if self.is_s3:
            return s3.list_prefix(self.client(), self.location, under)
        return local.list_folder(Path(self.url), under)

    def list_window(self, after: str) -> Window:
        """At most `max_keys_per_tick` keys of an S3 zone after the key `after`."""
        return s3.list_window(self.client(), self.location, after, self.max_keys_per_tick)

    def batches(self, records: list[FileRecord]) -> list[LandedBatch]:
        """The ready batches among listed files (a marked folder is one batch)."""
        return plan(records, self.tenant_from_path, self._uri)

    def fetch_batch(
        self, uri: str, version: str, name: str, workdir: Path
    ) -> tuple[list[LandedFile], Manifest]:
        """Every file of the batch as a local path (an S3 object is streamed into
        `workdir`) and its manifest, refusing a batch any file of which changed since it
        landed: that version is a batch of its own, loaded separately."""
        if not uri.endswith("/"):
            return [LandedFile(name, self._fetch(uri, version, name, workdir))], Manifest()
        folder = self._key(uri)
        records = self.list_files(folder)
        if folder_version(records) != version:
            raise _changed(name)
        files = [
            LandedFile(m.key.removeprefix(folder), self._fetch(m.uri, m.version, name, workdir))
            for m in folder_members(records, folder)
        ]
        manifest = Manifest()
        for record in records:
            if record.key == folder + MANIFEST:
                path = self._fetch(record.uri, record.version, name, workdir)
                manifest = parse_manifest(path.read_bytes())
        return files, manifest

    def _fetch(self, uri: str, version: str, name: str, workdir: Path) -> Path:
        """A local path holding this version of the file (a local file is used in place)."""
        if self.is_s3:
            location = self.location
            target = workdir / f"landed-{uuid.uuid4().hex}"
            if s3.download(self.client(), location, location.key_of(uri), version, target):
                return target
        else:
            path = local.path_of(uri)
            if path.is_file() and local.version_of(path) == version:
                return path
        raise _changed(name)

    def _uri(self, key: str) -> str:
        if self.is_s3:
            return self.location.uri(key)
        return local.uri_of(Path(self.url), key)

    def _key(self, uri: str) -> str:
        if self.is_s3:
            return self.location.key_of(uri)
        return local.path_of(uri).relative_to(Path(self.url).resolve()).as_posix() + "/"


def _changed(name: str) -> FileChanged:
    return FileChanged(
        name,
        "a file of the batch was changed or removed after it landed",
        "Nothing to fix here: a changed file is loaded as a new batch of its own.",
    )


class StagingArea(S3Backed):
    """Where staged Parquet and rejects CSVs are written between steps: a local folder, or
    `s3://bucket/prefix` so that any worker can run any step."""

    def path(self, partition_key: str, name: str) -> str:
        if self.is_s3:
            return self.location.uri(f"{partition_key}/{name}")
        return str(Path(self.url) / partition_key / name)

    def write_parquet(
        self, frame: pl.DataFrame, partition_key: str, name: str, row_group: int
    ) -> str:
        """zstd on S3, where bytes cost more than CPU; lz4 on a local disk, where it
        writes and reads back faster (100k orders: ~60 ms less, files 1.8x bigger)."""
        path = self.path(partition_key, name)
        if not self.is_s3:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(
            path,
            compression="zstd" if self.is_s3 else "lz4",
            row_group_size=row_group,
            storage_options=self._options(),
        )
        return path

    def write_bytes(self, data: bytes, partition_key: str, name: str) -> str:
        if self.is_s3:
            return s3.write(self.client(), self.location, f"{partition_key}/{name}", data)
        path = Path(self.path(partition_key, name))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return str(path)

    def put_file(self, source: Path, partition_key: str, name: str) -> str:
        """Move a finished local file (a rejects CSV) into the staging area."""
        if self.is_s3:
            return s3.upload(self.client(), self.location, f"{partition_key}/{name}", source)
        path = Path(self.path(partition_key, name))
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, path)
        return str(path)

    def link(self, partition_key: str, name: str, expires_hours: float) -> str | None:
        """On S3, a presigned download link to a staged file (a rejects CSV); None on a
        local folder, whose path is the link."""
        if not self.is_s3:
            return None
        seconds = int(expires_hours * 3600)
        return s3.presigned_url(self.client(), self.location, f"{partition_key}/{name}", seconds)

    def clear(self, partition_key: str, folder: str) -> None:
        """Remove a staged folder, so a re-run's output never mixes with an older one."""
        if self.is_s3:
            s3.remove_prefix(self.client(), self.location, f"{partition_key}/{folder}/")
        else:
            shutil.rmtree(self.path(partition_key, folder), ignore_errors=True)

    def scan_folder(self, partition_key: str, folder: str) -> pl.LazyFrame:
        """Every Parquet file of a staged folder, in name order, as one frame."""
        if self.is_s3:
            records = s3.list_prefix(self.client(), self.location, f"{partition_key}/{folder}/")
            paths = sorted(r.uri for r in records if r.key.endswith(".parquet"))
        else:
            paths = sorted(str(p) for p in Path(self.path(partition_key, folder)).glob("*.parquet"))
        return pl.scan_parquet(paths, storage_options=self._options())

    def _options(self) -> dict[str, str] | None:
        if not self.is_s3:
            return None
        credentials = (self.s3 or S3Connection()).credentials()
        return s3.polars_options(self.client(), credentials)


class ImportSettings(dg.ConfigurableResource):
    """Knobs of a load; override per run in the launchpad or per deployment here."""

    max_reject_rate: float = DEFAULT_MAX_REJECT_RATE
    chunk_rows: int = 50_000
    load_connections: int = 2
    """Connections an entity's chunks load over side by side: the database checks
    foreign keys on one core per connection."""
    held_max_age_hours: float = 72.0
    stuck_after_hours: float = 6.0
    rejects_link_hours: float = 24.0
    """How long the presigned links to a batch's rejects and duplicates (S3 staging) work;
    S3 accepts at most 7 days (168)."""
    step_retries: int = 3
    """Retries of a step that failed for a transient database error (a lost connection, a
    timeout, a serialization failure), the first after `retry_backoff_seconds`, doubling."""
    retry_backoff_seconds: float = 5.0


class Notifier(dg.ConfigurableResource):
    """Webhooks told about every import run's outcome (comma-separated URLs; empty: none).
    Each POST is signed with `secret` (HMAC-SHA256), times out, and is retried with backoff."""

    webhook_urls: str = ""
    secret: str = ""
    ui_base_url: str = "http://localhost:3000"
    timeout_seconds: float = 5.0
    retries: int = 2
    backoff_seconds: float = 0.5

    @property
    def urls(self) -> list[str]:
        return [url.strip() for url in self.webhook_urls.split(",") if url.strip()]


def optional_env(name: str) -> str:
    """`EnvVar(name)` when set (its value never shows in the UI), else "" (Dagster's EnvVar
    has no default, and an unset one would fail every tick of the notification sensors)."""
    return dg.EnvVar(name) if dg.EnvVar(name).get_value() is not None else ""


def env_flag(name: str) -> bool:
    """An optional yes/no deployment setting (Dagster's EnvVar has no default)."""
    return (dg.EnvVar(name).get_value("") or "").lower() in ("1", "true", "yes")


@dg.definitions
def resources() -> dg.Definitions:
    aws = S3Connection()
    return dg.Definitions(
        resources={
            "postgres": PostgresResource(url=dg.EnvVar("DATABASE_URL")),
            "landing": LandingZone(
                url=dg.EnvVar("IMPORT_LANDING_URL"),
                tenant_from_path=env_flag("IMPORT_TENANT_FROM_PATH"),
                s3=aws,
            ),
            "staging": StagingArea(url=dg.EnvVar("IMPORT_STAGING_URL"), s3=aws),
            "settings": ImportSettings(),
            "notifier": Notifier(
                webhook_urls=optional_env("IMPORT_WEBHOOK_URLS"),
                secret=optional_env("IMPORT_WEBHOOK_SECRET"),
                ui_base_url=optional_env("IMPORT_UI_BASE_URL") or "http://localhost:3000",
            ),
        }
    )
