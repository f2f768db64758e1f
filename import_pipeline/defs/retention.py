"""Partition retention: batches that ended long ago leave the Dagster instance, whose UI
slows down past tens of thousands of partitions an asset; the ledger keeps them all."""

import dagster as dg

from import_pipeline.db import retention
from import_pipeline.defs.partitions import batches
from import_pipeline.defs.resources import ImportSettings, PostgresResource

PRUNE_PER_TICK = 10_000


@dg.sensor(minimum_interval_seconds=3600, default_status=dg.DefaultSensorStatus.RUNNING)
def partition_retention_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, settings: ImportSettings
) -> dg.SensorResult | dg.SkipReason:
    """Deletes the dynamic partitions of batches that ended more than
    `partition_retention_days` ago (their runs' event logs follow Dagster's own retention);
    such a batch is re-run by its URI with `import-pipeline rerun`."""
    with postgres.connect() as conn:
        old = retention.prunable(conn, settings.partition_retention_days, PRUNE_PER_TICK)
        if not old:
            return dg.SkipReason("no batch ended before the retention window")
        present = set(context.instance.get_dynamic_partitions(batches.name))
        doomed = [key for key in old if key in present]
        retention.note_pruned(conn, old)
    return dg.SensorResult(
        dynamic_partitions_requests=[batches.build_delete_request(doomed)] if doomed else []
    )
