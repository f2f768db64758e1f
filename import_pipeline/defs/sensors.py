"""The landing sensor: list the landing zone, register new batches, request their runs."""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
from psycopg2.extensions import connection

from import_pipeline.core.entities import ENTITIES
from import_pipeline.core.entities import load_rank as entity_rank
from import_pipeline.core.landing import (
    FileRecord,
    LandedBatch,
    complete_window,
    settle_pause,
    settled,
    unusable_tenants,
)
from import_pipeline.core.profile_nodes import ProfileError
from import_pipeline.core.profiles import all_profiles, load_profile, resolve_profile
from import_pipeline.core.runs import PlannedRun, RunBounds, plan_runs
from import_pipeline.db import ledger
from import_pipeline.defs.jobs import import_batch
from import_pipeline.defs.landing_events import (
    announced_batches,
    listing_cursor,
    listing_due,
    merged,
)
from import_pipeline.defs.partitions import batches, range_tags
from import_pipeline.defs.resources import LandingZone, PostgresResource
from import_pipeline.defs.run_queue import queue_tags
from import_pipeline.files.store import Store
from import_pipeline.load import processed

TAG_URI = "import/uri"
TAG_TENANT = "import/tenant"
TAG_PROFILE = "import/profile"
TAG_PRIORITY = "dagster/priority"
TAG_FILES = "import/files"
PAUSE_LIMIT_SECONDS = 10.0
"""The longest a tick waits for a file to hold still; a longer settle time (slow writers)
leaves the file to a later tick, because a tick must end well inside Dagster's sensor
timeout (60 s by default)."""


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
) -> tuple[list[ledger.Batch], set[str]]:
    """Register batches the ledger has not seen; return those `wanted_by` says still need a
    run (by default: unknown or never started), and the keys new to the ledger."""
    with postgres.connect() as conn:
        wanted = wanted_by(conn, [b.partition_key for b in ready])
        todo = ledger_batches([b for b in ready if b.partition_key in wanted])
        fresh = ledger.register(conn, todo)
    return todo, fresh


def note_redrops(
    context: dg.SensorEvaluationContext,
    postgres: PostgresResource,
    ready: list[LandedBatch],
    todo: list[ledger.Batch],
) -> None:
    """Processed-prefix mode: record the ready batches that are identical re-sends of ones
    that loaded and moved (the ledger never loads them again), so that `processed_sensor`
    moves them out of the live prefix too instead of leaving them there for good."""
    wanted = {b.partition_key for b in todo}
    known = [b.partition_key for b in ready if b.partition_key not in wanted]
    if not known:
        return
    with postgres.connect() as conn:
        noted = processed.note_redrops(conn, known)
    for key in noted:
        context.log.info(f"{key}: an identical re-send of a loaded batch; it moves to _processed/")


def not_yet_requested(
    instance: dg.DagsterInstance, todo: list[ledger.Batch], fresh: set[str]
) -> list[ledger.Batch]:
    """Drop the batches a tick already requested a run for: the ledger says queued until a
    run starts, and a run of many files has a run key of its own, so the batch's key would
    not stop a second run. A batch is a partition only once the daemon has applied the
    tick that requested its run; one registered by a tick whose result was lost is not,
    and is requested again (the daily reconciliation catches the rest)."""
    if all(b.partition_key in fresh for b in todo):
        return todo
    partitions = set(instance.get_dynamic_partitions(batches.name))
    return [b for b in todo if b.partition_key in fresh or b.partition_key not in partitions]


def _tags(batch: ledger.Batch) -> dict[str, str]:
    """Tenant, profile and a queue priority that lets parents' files start before their
    children's."""
    return {
        TAG_TENANT: batch.tenant,
        TAG_PROFILE: batch.profile,
        TAG_PRIORITY: str(len(ENTITIES) - load_rank(batch)),
        **queue_tags(batch.tenant),
    }


def run_request(batch: ledger.Batch, run_key: str) -> dg.RunRequest:
    """A run of the import job for one batch; its URI, tenant and profile as run tags."""
    return dg.RunRequest(
        partition_key=batch.partition_key,
        run_key=run_key,
        tags={TAG_URI: batch.uri, **_tags(batch)},
    )


def range_request(run: PlannedRun[ledger.Batch]) -> dg.RunRequest:
    """A run of the import job over the batches of `run`, which the same tick adds as
    consecutive partitions; one batch alone is a run of its partition, as ever."""
    if len(run.batches) == 1:
        return run_request(run.first, run.first.partition_key)
    first, last = run.first.partition_key, run.last.partition_key
    return dg.RunRequest(
        run_key=f"{first}..{last}",
        tags={**range_tags(first, last), TAG_FILES: str(len(run.batches)), **_tags(run.first)},
    )


def load_rank(batch: ledger.Batch) -> int:
    """The batch's place in foreign-key order, from the entities its profile feeds; by its
    name when the profile is gone (its run then fails with the profile's named error)."""
    try:
        return load_profile(batch.profile).load_rank(batch.file_name)
    except ProfileError:
        return entity_rank(batch.file_name)


def load_order(batch: ledger.Batch) -> tuple[int, str]:
    """Customers and products files before orders, orders before line items (by the
    entities each file's profile feeds): a child loaded before its parent is held and
    loaded again later, which costs a second pass."""
    return load_rank(batch), batch.partition_key


def parents_first(batches_: list[ledger.Batch]) -> list[ledger.Batch]:
    return sorted(batches_, key=load_order)


def plan(
    todo: list[ledger.Batch], fresh: set[str], sizes: dict[str, int], bounds: RunBounds
) -> list[PlannedRun[ledger.Batch]]:
    """The tick's runs: a tenant's new files of one profile share runs within `bounds`. A
    batch the ledger knew already (registered by a tick whose runs never started) may be
    a partition already, at its old place in the order, so it runs alone."""
    return plan_runs(
        todo,
        group=lambda b: (b.tenant, b.profile) if b.partition_key in fresh else b.partition_key,
        order=load_order,
        size=lambda b: sizes.get(b.partition_key, 0),
        bounds=bounds,
    )


def sensor_result(runs: list[PlannedRun[ledger.Batch]], cursor: dict) -> dg.SensorResult:
    """The runs, and their batches added as partitions in one request, run after run: a
    range run covers the partitions between its first and last in the order they were
    added, so each run's batches must be added together and in its order."""
    keys = [b.partition_key for run in runs for b in run.batches]
    return dg.SensorResult(
        run_requests=[range_request(run) for run in runs],
        dynamic_partitions_requests=[batches.build_add_request(keys)] if keys else [],
        cursor=json.dumps(cursor, sort_keys=True),
    )


@dataclass(frozen=True)
class Look:
    """One listing of the zone's window after `after`: the batches ready to load, those
    still being written (uri -> version), and how long until the youngest of those has
    held still for the settle time (the tick waits that long and looks once more)."""

    records: list[FileRecord]
    ready: list[LandedBatch]
    waiting: dict[str, str]
    pause: float
    after: str
    skipped: str

    @staticmethod
    def take(store: Store, landing: LandingZone, after: str, seen: dict[str, str]) -> "Look":
        window = store.list_window(after, landing.max_keys_per_tick)
        records, after, skipped = complete_window(window, landing.tenant_from_path)
        ready, waiting, pause = landing.batches(records), {}, 0.0
        if not store.writes_are_atomic:
            now = datetime.now(UTC)
            listed = ready
            ready, waiting = settled(listed, seen, now, landing.settle_seconds)
            pause = settle_pause(listed, waiting, now, landing.settle_seconds)
        return Look(records, ready, waiting, pause, after, skipped)


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
    the settle time (the tick waits for a file younger than that, see `Look`), or since the
    previous tick (an S3 object is listed only once whole).
    With a queue of S3 events (`queue_url`) new files come from the events and the listing
    is the safety net (defs/landing_events.py)."""
    store = landing.store()
    cursor = json.loads(context.cursor) if context.cursor else {}
    ready: list[LandedBatch] = []
    listed = None
    if listing_due(landing, cursor, datetime.now(UTC)):
        look = Look.take(store, landing, cursor.get("after", ""), cursor.get("waiting", {}))
        if 0 < look.pause <= PAUSE_LIMIT_SECONDS:
            time.sleep(look.pause)
            look = Look.take(store, landing, cursor.get("after", ""), look.waiting)
        if look.skipped:
            context.log.warning(
                f"{look.skipped} holds more than {landing.max_keys_per_tick} files, more than "
                "one tick lists: raise max_keys_per_tick, or let the daily reconciliation load it"
            )
        report_unusable_tenants(context, look.records, landing.tenant_from_path)
        ready = look.ready
        listed = {"after": look.after} | ({"waiting": look.waiting} if look.waiting else {})
    with announced_batches(context, landing) as announced:
        ready = merged(ready, announced)
        todo, fresh = request_runs(ready, postgres)
    if landing.move_processed:
        note_redrops(context, postgres, ready, todo)
    todo = not_yet_requested(context.instance, todo, fresh)
    sizes = {b.partition_key: sum(m.size for m in b.members) for b in ready}
    runs = plan(todo, fresh, sizes, landing.run_bounds)
    return sensor_result(runs, listing_cursor(landing, cursor, listed, datetime.now(UTC)))
