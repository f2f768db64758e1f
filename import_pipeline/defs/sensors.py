"""Landing sensors: list the landing zone, register new batches, request their runs."""

import json
from datetime import UTC, datetime

import dagster as dg

from import_pipeline.core.landing import DEFAULT_TENANT, FileRecord, partition_key, settled
from import_pipeline.core.profiles import CANONICAL
from import_pipeline.db import ledger
from import_pipeline.defs.jobs import import_batch
from import_pipeline.defs.partitions import batches
from import_pipeline.defs.resources import LandingZone, PostgresResource

TAG_URI = "import/uri"
TAG_TENANT = "import/tenant"
TAG_PROFILE = "import/profile"


def batch_of(record: FileRecord, tenant: str) -> ledger.Batch:
    return ledger.Batch(
        partition_key=partition_key(record, tenant),
        uri=record.uri,
        tenant=tenant,
        profile=CANONICAL.name,
        version=record.version,
        landed_at=record.modified,
    )


def request_runs(ready: list[ledger.Batch], postgres: PostgresResource) -> list[ledger.Batch]:
    """Register batches the ledger has not seen; return those still needing a run."""
    with postgres.connect() as conn:
        wanted = ledger.needing_runs(conn, [b.partition_key for b in ready])
        new = [b for b in ready if b.partition_key in wanted]
        ledger.register(conn, new)
    return new


def sensor_result(new: list[ledger.Batch], cursor: dict) -> dg.SensorResult:
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                partition_key=b.partition_key,
                run_key=b.partition_key,
                tags={TAG_URI: b.uri, TAG_TENANT: b.tenant, TAG_PROFILE: b.profile},
            )
            for b in new
        ],
        dynamic_partitions_requests=(
            [batches.build_add_request([b.partition_key for b in new])] if new else []
        ),
        cursor=json.dumps(cursor, sort_keys=True),
    )


@dg.sensor(
    job=import_batch,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def local_landing_sensor(
    context: dg.SensorEvaluationContext, landing: LandingZone, postgres: PostgresResource
) -> dg.SensorResult | dg.SkipReason:
    """Watches a local landing folder: a file whose size and mtime held still since the
    previous tick (or for the settle time) becomes a batch and a run."""
    if landing.is_s3:
        return dg.SkipReason(f"the landing zone {landing.url} is watched by s3_landing_sensor")
    cursor = json.loads(context.cursor) if context.cursor else {}
    ready, waiting = settled(
        landing.list_files(), cursor.get("waiting", {}), datetime.now(UTC), landing.settle_seconds
    )
    new = request_runs([batch_of(r, DEFAULT_TENANT) for r in ready], postgres)
    return sensor_result(new, {"waiting": waiting})
