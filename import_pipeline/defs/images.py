"""When product images are fetched: after each products load (a sensor), and again for
failures whose backoff has passed (a schedule). Images run as their own job, so an image
never slows or fails an import run."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from import_pipeline.db import images as db
from import_pipeline.defs.resources import PostgresResource, optional_env_value
from import_pipeline.files.web import FetchPolicy
from import_pipeline.load.images import Retries

IMAGES_GROUP = "images"
ALLOWED_NETWORKS_ENV = "IMPORT_IMAGES_ALLOWED_NETWORKS"


class ImageFetching(dg.ConfigurableResource):
    """Bounds of image downloads. `allowed_networks`: comma-separated CIDRs whose private
    addresses may be fetched (an internal image server); every other private, loopback or
    link-local address is refused."""

    concurrency: int = 8
    timeout_seconds: float = 10.0
    max_bytes: int = 20 << 20
    max_redirects: int = 3
    allowed_networks: str = ""
    backoff_minutes: float = 15.0
    max_backoff_hours: float = 24.0
    max_attempts: int = 6

    def policy(self) -> FetchPolicy:
        networks = tuple(n.strip() for n in self.allowed_networks.split(",") if n.strip())
        return FetchPolicy(
            timeout_seconds=self.timeout_seconds,
            max_bytes=self.max_bytes,
            max_redirects=self.max_redirects,
            allowed_networks=networks,
        )

    def retries(self) -> Retries:
        return Retries(
            backoff=timedelta(minutes=self.backoff_minutes),
            max_backoff=timedelta(hours=self.max_backoff_hours),
            max_attempts=self.max_attempts,
        )


product_images_job = dg.define_asset_job(
    "fetch_product_images",
    selection=dg.AssetSelection.groups(IMAGES_GROUP),
    executor_def=dg.in_process_executor,
    description="Fetch, hash and store the images of one batch's new or changed products.",
)


PRODUCTS = dg.AssetKey("products")
MAX_BATCHES_PER_TICK = 500


@dg.sensor(job=product_images_job, default_status=dg.DefaultSensorStatus.RUNNING)
def product_images_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Requests the images of every batch whose products were just loaded: each products
    materialization since the last tick (a run of many files loads many batches' products
    at once), or on the very first tick the latest one."""
    if context.cursor:
        since = dg.AssetRecordsFilter(asset_key=PRODUCTS, after_storage_id=int(context.cursor))
        found = context.instance.fetch_materializations(
            since, limit=MAX_BATCHES_PER_TICK, ascending=True
        )
    else:
        found = context.instance.fetch_materializations(PRODUCTS, limit=1)
    records = found.records
    requests = [
        dg.RunRequest(partition_key=r.partition_key, run_key=f"images-{r.partition_key}-{r.run_id}")
        for r in records
        if r.partition_key is not None
    ]
    cursor = str(records[-1].storage_id) if records else context.cursor
    return dg.SensorResult(run_requests=requests, cursor=cursor)


@dg.schedule(
    job=product_images_job,
    cron_schedule="*/15 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def product_image_retries(
    context: dg.ScheduleEvaluationContext, postgres: PostgresResource, images: ImageFetching
) -> list[dg.RunRequest] | dg.SkipReason:
    """Every 15 minutes, re-runs the images of batches holding a failed image whose
    backoff has passed (15 min, doubling per attempt up to a day, at most 6 attempts)."""
    now = context.scheduled_execution_time or datetime.now(UTC)
    with postgres.connect() as conn:
        due = db.due_batches(conn, now, images.max_attempts)
    if not due:
        return dg.SkipReason("no failed image is due for another attempt")
    stamp = now.strftime("%Y%m%dT%H%M")
    return [dg.RunRequest(partition_key=key, run_key=f"image-retry-{stamp}-{key}") for key in due]


@dg.definitions
def image_fetching() -> dg.Definitions:
    """The images job with its sensor and schedule, and the resource that bounds fetches
    (a module with a definitions function is loaded through it alone)."""
    allowed = optional_env_value(ALLOWED_NETWORKS_ENV)
    return dg.Definitions(
        jobs=[product_images_job],
        sensors=[product_images_sensor],
        schedules=[product_image_retries],
        resources={"images": ImageFetching(allowed_networks=allowed)},
    )
