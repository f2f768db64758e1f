"""The landing sensor: list the landing zone, register new batches, request their runs."""

import json
from collections.abc import Callable
from datetime import UTC, datetime

import dagster as dg
from psycopg2.extensions import connection

from import_pipeline.core.entities import ENTITIES, load_rank
from import_pipeline.core.landing import (
    FileRecord,
    LandedBatch,
    complete_window,
    settled,
    unusable_tenants,
)
from import_pipeline.core.profiles import all_profiles, resolve_profile
from import_pipeline.db import ledger
from import_pipeline.defs.jobs import import_batch
from import_pipeline.defs.landing_events import (
    announced_batches,
    listing_cursor,
    listing_due,
    merged,
)
from import_pipeline.defs.partitions import batches
from import_pipeline.defs.resources import LandingZone, PostgresResource
from import_pipeline.defs.run_queue import queue_tags

TAG_URI = "import/uri"
TAG_TENANT = "import/tenant"
TAG_PROFILE = "import/profile"
TAG_PRIORITY = "dagster/priority"


def profile_names(keys: list[str]) -> dict[str, str]:
    """`resolve_profile` for many keys, listing the profiles directory once per tick (a
    tick of 1,000 new files would otherwise list and stat it 1,000 times)."""
    profiles = all_profiles()
    return {key: resolve_profile(key, profiles=profiles).name for key in keys}


def ledger_batches(landed: list[LandedBatch]) -> list[ledger.Batch]:
    """Landed batches as the ledger records them, each with its source profile."""
    profiles = profile_names([b.key for b in landed])
    return [
        ledger.Batch(
            partition_key=b.partition_key,
            uri=b.uri,
            tenant=b.tenant,
            profile=profiles[b.key],
            version=b.version,
            landed_at=b.landed_at,
        )
        for b in landed
    ]


Wanted = Callable[[connection, list[str]], set[str]]
"""Which partition keys still need a run, asked of the ledger."""


def request_runs(
    ready: list[LandedBatch], postgres: PostgresResource, wanted_by: Wanted = ledger.needing_runs
) -> list[ledger.Batch]:
    """Register batches the ledger has not seen; return those `wanted_by` says still need a
    run (by default: unknown or never started)."""
    with postgres.connect() as conn:
        wanted = wanted_by(conn, [b.partition_key for b in ready])
        new = ledger_batches([b for b in ready if b.partition_key in wanted])
        ledger.register(conn, new)
    return new


def run_request(batch: ledger.Batch, run_key: str) -> dg.RunRequest:
    """A run of the import job for one batch; its URI, tenant and profile as run tags, and
    a queue priority that lets parents' files start before their children's."""
    return dg.RunRequest(
        partition_key=batch.partition_key,
        run_key=run_key,
        tags={
            TAG_URI: batch.uri,
            TAG_TENANT: batch.tenant,
            TAG_PROFILE: batch.profile,
            TAG_PRIORITY: str(len(ENTITIES) - load_rank(batch.file_name)),
            **queue_tags(batch.tenant),
        },
    )


def parents_first(batches_: list[ledger.Batch]) -> list[ledger.Batch]:
    """Customers and products files before orders, orders before line items: a child
    loaded before its parent is held and loaded again later, which costs a second pass."""
    return sorted(batches_, key=lambda b: (load_rank(b.file_name), b.partition_key))


def sensor_result(new: list[ledger.Batch], cursor: dict) -> dg.SensorResult:
    return dg.SensorResult(
        run_requests=[run_request(b, b.partition_key) for b in parents_first(new)],
        dynamic_partitions_requests=(
            [batches.build_add_request([b.partition_key for b in new])] if new else []
        ),
        cursor=json.dumps(cursor, sort_keys=True),
    )


def report_unusable_tenants(
    context: dg.SensorEvaluationContext, records: list[FileRecord], tenant_from_path: bool
) -> None:
    """Warn about tenant folders whose files are skipped: a bad folder name must not stop
    every other tenant's loads (as a failed tick would), nor reach the ledger."""
    for folder, problem in unusable_tenants(records, tenant_from_path).items():
        context.log.warning(f"skipped the files of {folder[:80]!r}/: {problem}")


# NOTE: the daemon visits sensors about every 5 s; a 5 s minimum made it skip every other
# visit (ticks 10 s apart), so 4 s gives the effective 5 s cadence a small file needs.
@dg.sensor(
    job=import_batch,
    minimum_interval_seconds=4,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def landing_sensor(
    context: dg.SensorEvaluationContext, landing: LandingZone, postgres: PostgresResource
) -> dg.SensorResult:
    """Watches the landing zone, a folder or an S3 prefix, at most `max_keys_per_tick` keys
    a tick: the cursor keeps the last key looked at, and a listing that reaches the end
    starts over on the next tick, so a changed file (new version) is found too. A file or
    marked folder becomes a batch and a run; on a local disk it must first hold still for
    the settle time or since the previous tick (an S3 object is listed only once whole).
    With a queue of S3 events (`queue_url`) new files come from the events and the listing
    is the safety net (defs/landing_events.py)."""
    store = landing.store()
    cursor = json.loads(context.cursor) if context.cursor else {}
    now = datetime.now(UTC)
    ready: list[LandedBatch] = []
    listed = None
    if listing_due(landing, cursor, now):
        window = store.list_window(cursor.get("after", ""), landing.max_keys_per_tick)
        records, after, skipped = complete_window(window, landing.tenant_from_path)
        if skipped:
            context.log.warning(
                f"{skipped} holds more than {landing.max_keys_per_tick} files, more than one "
                "tick lists: raise max_keys_per_tick, or let the daily reconciliation load it"
            )
        report_unusable_tenants(context, records, landing.tenant_from_path)
        ready, waiting = landing.batches(records), {}
        if not store.writes_are_atomic:
            ready, waiting = settled(ready, cursor.get("waiting", {}), now, landing.settle_seconds)
        listed = {"after": after} | ({"waiting": waiting} if waiting else {})
    with announced_batches(context, landing) as announced:
        new = request_runs(merged(ready, announced), postgres)
    return sensor_result(new, listing_cursor(landing, cursor, listed, now))
