"""The processed-prefix mode: succeeded batches leave the live landing prefix, so its
listing costs what is new or failed, not everything ever delivered."""

import dagster as dg

from import_pipeline.core.landing import processed_key
from import_pipeline.db import processed
from import_pipeline.defs.resources import LandingZone, PostgresResource
from import_pipeline.files.store import move_batch

MOVES_PER_TICK = 200
"""Batches moved per tick: a backlog (the mode switched on over a full bucket) drains over
ticks, each well inside the sensor's time limit."""


def move_succeeded(landing: LandingZone, postgres: PostgresResource, limit: int) -> list[str]:
    """Move up to `limit` succeeded batches to `_processed/<date they finished>/`, each
    recorded in the ledger; the partition keys moved. Safe to repeat: a file already moved
    is found at its target, a move cut short is resumed, a batch whose files changed since
    it loaded stays where it is (the change is a batch of its own)."""
    store = landing.store()
    done = []
    with postgres.connect("import_pipeline processed") as conn:
        for batch in processed.unmoved(conn, store.uri(""), limit):
            to_key = processed_key(store.key_of(batch.uri), batch.finished_at)
            resumed = batch.target is not None
            if not resumed:
                processed.claim(conn, batch.partition_key, store.uri(to_key))
            moved_to = move_batch(store, batch.uri, batch.version, to_key, resumed)
            processed.moved(conn, batch.partition_key, moved_to)
            if moved_to:
                done.append(batch.partition_key)
    return done


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def processed_sensor(
    context: dg.SensorEvaluationContext, landing: LandingZone, postgres: PostgresResource
) -> dg.SkipReason:
    """With `move_processed` (IMPORT_MOVE_PROCESSED), moves the files of succeeded batches
    to `_processed/<date>/` below the landing root; failed and new ones stay."""
    if not landing.move_processed:
        return dg.SkipReason("move_processed is off: succeeded batches stay where they landed")
    moved = move_succeeded(landing, postgres, MOVES_PER_TICK)
    if moved:
        context.log.info(f"moved {len(moved)} succeeded batch(es) to _processed/")
    return dg.SkipReason(f"moved {len(moved)} succeeded batch(es)")
