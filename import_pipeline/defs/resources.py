"""Resources: the database of record, the landing zone, the staging area, load settings.

The landing zone and the staging area are each a local folder or an `s3://bucket/prefix`:
they hold configuration and hand out a store (`files/store.py`) that does the work. S3 is
reached through dagster-aws's `S3Resource`, whose endpoint comes from `S3Connection` or the
standard `AWS_ENDPOINT_URL` variable (MinIO, moto), credentials from the usual AWS_* ones.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import dagster as dg
from psycopg2.extensions import connection
from pydantic import PrivateAttr

from import_pipeline.core.events import CreatedObject, announced
from import_pipeline.core.landing import FileRecord, LandedBatch, plan
from import_pipeline.core.runs import RunBounds
from import_pipeline.core.stage import DEFAULT_MAX_REJECT_RATE
from import_pipeline.db.migrate import connected_migrated
from import_pipeline.files import s3, sqs
from import_pipeline.files.store import Store, open_store


class PostgresResource(dg.ConfigurableResource):
    """The PostgreSQL database that holds `commerce` and `ingest`; migrated on first use."""

    url: str

    _migrated: bool = PrivateAttr(default=False)

    @contextmanager
    def connect(self, application_name: str = "import_pipeline") -> Iterator[connection]:
        """A new connection, named in pg_stat_activity by what it is for."""
        with connected_migrated(self.url, application_name, not self._migrated) as conn:
            self._migrated = True
            yield conn


class S3Connection(dg.ConfigurableResource):
    """How to reach S3 (AWS, MinIO, moto): the settings of dagster-aws's `S3Resource`, which
    builds the client once a URL is `s3://` (importing dagster_aws costs a run process about
    a second, see the README, so a local deployment never pays it). An empty field leaves
    it to boto3's own lookup (AWS_ENDPOINT_URL, AWS_* credentials, ~/.aws)."""

    endpoint_url: str = ""
    region_name: str = ""
    aws_access_key_id: str = ""
    aws_secret_access_key: str = ""
    aws_session_token: str = ""

    def get_client(self) -> Any:
        place = {"endpoint_url": self.endpoint_url, "region_name": self.region_name}
        return s3.client(place | self.credentials())

    def credentials(self) -> dict[str, str]:
        """The credentials set here (none: polars reads the same AWS_* as boto3)."""
        keys = {
            "aws_access_key_id": self.aws_access_key_id,
            "aws_secret_access_key": self.aws_secret_access_key,
            "aws_session_token": self.aws_session_token,
        }
        return {k: v for k, v in keys.items() if v}


class StoreResource(dg.ConfigurableResource):
    """Configuration of a place that holds files (a folder, or `s3://bucket/prefix`) and the
    one store it hands out per resource instance."""

    url: str
    s3: S3Connection | None = None

    setting: ClassVar[str] = "url"
    """The environment variable a deployment sets the URL from, named in errors."""

    _store: Store | None = PrivateAttr(default=None)

    def store(self) -> Store:
        """The store the URL names; an unsupported scheme raises `UnsupportedLocation`."""
        if self._store is None:
            aws = self.s3 or S3Connection()
            self._store = open_store(self.setting, self.url, aws.get_client, aws.credentials)
        return self._store


class LandingZone(StoreResource):
    """Where partners drop files: a local folder or `s3://bucket/prefix`. With
    `tenant_from_path`, the first folder below the root names the tenant.

    A local file is taken as complete once it has not been modified for `settle_seconds`:
    a tick that lists a younger one waits until it is that old and lists again, because
    leaving it to the next tick adds that tick to a small file's landing-to-loaded time
    (figures in bench/README.md, "Figures behind the code"). A file written with
    longer pauses can be taken half-written: its change is then caught before staging
    (FileChanged) or loads as a new batch; writers should write to a temporary name and
    rename, or complete a folder with a marker."""

    settle_seconds: float = 3.0
    tenant_from_path: bool = False
    max_keys_per_tick: int = 1000
    max_files_per_run: int = 100
    max_mb_per_run: float = 64.0
    queue_url: str = ""
    """An SQS queue receiving the bucket's S3 event notifications (ObjectCreated): new
    files are then found from the events, and the listing becomes the slow safety net."""
    queue_endpoint_url: str = ""
    queue_max_messages: int = 100
    """Messages read per tick; the rest wait for the next tick."""
    queue_wait_seconds: int = 1
    """Long poll: how long a tick waits for the first message."""
    queue_visibility_seconds: int = 60
    """How long a received message stays hidden; one not deleted by then (the tick died
    before its batches reached the ledger) is delivered again."""
    listing_interval_seconds: float = 300.0
    """With a queue: a full listing pass starts at most this often, for lost events."""
    move_processed: bool = False
    """Move a succeeded batch's files to `_processed/<date>/` below the root, so the live
    prefix holds only what is new or failed (see defs/processed.py)."""

    @property
    def run_bounds(self) -> RunBounds:
        """How many settled files of one tenant and profile one run may load (see
        core/runs.py); `max_files_per_run: 1` is one run per file."""
        return RunBounds(
            files=max(self.max_files_per_run, 1), bytes_=int(self.max_mb_per_run * 2**20)
        )

    setting: ClassVar[str] = "IMPORT_LANDING_URL"

    _queue: sqs.LandingQueue | None = PrivateAttr(default=None)

    def list_files(self, under: str = "") -> list[FileRecord]:
        """Every file of the zone (or of its folder `under`), without a bound."""
        return self.store().list(under)

    def batches(self, records: list[FileRecord]) -> list[LandedBatch]:
        """The ready batches among listed files (a marked folder is one batch)."""
        return plan(records, self.tenant_from_path, self.store().uri)

    def queue(self) -> sqs.LandingQueue:
        """The queue of landing events (needs `queue_url` and an s3:// landing zone)."""
        if self._queue is None:
            if not self.url.startswith("s3://"):
                raise ValueError(
                    f"IMPORT_LANDING_QUEUE_URL is set but IMPORT_LANDING_URL={self.url} is no "
                    "s3:// bucket: S3 event notifications need an S3 landing zone; unset one"
                )
            aws = self.s3 or S3Connection()
            place = {"region_name": aws.region_name} | aws.credentials()
            client = sqs.client(self.queue_endpoint_url, place)
            self._queue = sqs.LandingQueue(
                client, self.queue_url, self.queue_wait_seconds, self.queue_visibility_seconds
            )
        return self._queue

    def announced_batches(self, objects: list[CreatedObject]) -> list[LandedBatch]:
        """The ready batches that created objects make: a file as the event describes it
        (no listing), a folder batch listed whole (only that folder)."""
        store = self.store()
        location = s3.S3Location.parse(self.url)
        news = announced(
            objects, location.bucket, location.prefix, store.uri, self.tenant_from_path
        )
        return self.batches(news.files + [r for f in news.folders for r in store.list(f)])


class StagingArea(StoreResource):
    """Where staged Parquet and rejects CSVs are written between steps (laid out as
    `files/layout.py` says): a local folder, or `s3://bucket/prefix` so that any worker
    can run any step."""

    setting: ClassVar[str] = "IMPORT_STAGING_URL"


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
    partition_retention_days: float = 90.0
    """Batches that ended longer ago lose their Dagster partition (the ledger keeps them)."""


class Notifier(dg.ConfigurableResource):
    """Webhooks told about every import run's outcome (comma-separated URLs; empty: none).
    Each POST is signed with `secret` (HMAC-SHA256; URLs without one are refused, never sent
    unsigned), times out, and is retried with backoff."""

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


def optional_env_value(name: str) -> str:
    """An optional deployment setting's value, "" when unset."""
    return dg.EnvVar(name).get_value("") or ""


def env_flag(name: str) -> bool:
    """An optional yes/no deployment setting (Dagster's EnvVar has no default)."""
    return optional_env_value(name).lower() in ("1", "true", "yes")


@dg.definitions
def resources() -> dg.Definitions:
    aws = S3Connection()
    return dg.Definitions(
        resources={
            "postgres": PostgresResource(url=dg.EnvVar("DATABASE_URL")),
            "landing": LandingZone(
                url=dg.EnvVar("IMPORT_LANDING_URL"),
                tenant_from_path=env_flag("IMPORT_TENANT_FROM_PATH"),
                max_files_per_run=int(optional_env_value("IMPORT_MAX_FILES_PER_RUN") or 100),
                queue_url=optional_env("IMPORT_LANDING_QUEUE_URL"),
                move_processed=env_flag("IMPORT_MOVE_PROCESSED"),
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
