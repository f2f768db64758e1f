"""The processed-prefix mode: succeeded batches leave the live landing prefix, so its
listing costs what is new or failed, not everything ever delivered."""

import dagster as dg

from import_pipeline.defs.resources import LandingZone, PostgresResource
from import_pipeline.load import processed

MOVES_PER_TICK = 200
"""Batches (and re-sends) moved per tick: a backlog (the mode switched on over a full
bucket) drains over ticks, each well inside the sensor's time limit."""


def move_succeeded(landing: LandingZone, postgres: PostgresResource, limit: int) -> list[str]:
    """Move up to `limit` succeeded batches to `_processed/<date>/` (see load/processed.py);
    the partition keys moved."""
    with postgres.connect("import_pipeline processed") as conn:
        return processed.move_succeeded(landing.store(), conn, limit)


def move_redrops(landing: LandingZone, postgres: PostgresResource, limit: int) -> list[str]:
    """Move up to `limit` identical re-sends of loaded batches, which the landing sensor
    recorded in `ingest.redrops`, out of the live prefix; the URIs they moved to."""
    with postgres.connect("import_pipeline processed") as conn:
        return processed.move_redrops(landing.store(), conn, limit)


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def processed_sensor(
    context: dg.SensorEvaluationContext, landing: LandingZone, postgres: PostgresResource
) -> dg.SkipReason:
    """With `move_processed` (IMPORT_MOVE_PROCESSED), moves the files of succeeded batches
    to `_processed/<date>/` below the landing root, and identical re-sends of them (which
    never load again) to `_processed/<date>.redrop-<n>/`; failed and new ones stay."""
    if not landing.move_processed:
        return dg.SkipReason("move_processed is off: succeeded batches stay where they landed")
    moved = move_succeeded(landing, postgres, MOVES_PER_TICK)
    if moved:
        context.log.info(f"moved {len(moved)} succeeded batch(es) to _processed/")
    redrops = move_redrops(landing, postgres, MOVES_PER_TICK)
    for uri in redrops:
        context.log.info(f"moved an identical re-send of a loaded batch to {uri}")
    return dg.SkipReason(
        f"moved {len(moved)} succeeded batch(es) and {len(redrops)} identical re-send(s)"
    )
