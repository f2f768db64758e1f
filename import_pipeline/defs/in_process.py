"""Drive the code location in-process as the daemon would: one tick of a landing sensor
(its partitions added), one run of `import_batch` for a requested batch, and the
metadata of what it materialised. The suite and the benchmark both drive it this way."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from import_pipeline.defs.partitions import batches
from import_pipeline.defs.resources import LandingZone, PostgresResource
from import_pipeline.defs.sensors import landing_sensor


@dataclass
class Tick:
    run_requests: list[dg.RunRequest]
    cursor: str | None
    added: list[str] = field(default_factory=list)
    """The partitions the tick added, in order (a range run covers consecutive ones)."""

    @property
    def keys(self) -> list[str]:
        """Every batch the tick requested a run for, in the order of its runs."""
        return [key for request in self.run_requests for key in self.batches(request)]

    def batches(self, request: dg.RunRequest) -> list[str]:
        """The batches of one requested run: its partition, or its range's."""
        if request.partition_key is not None:
            return [request.partition_key]
        span = request.partition_key_range
        if span is None:
            return []
        return self.added[self.added.index(span.start) : self.added.index(span.end) + 1]


def tick(
    instance: dg.DagsterInstance,
    landing: Path,
    database_url: str,
    cursor: str | None = None,
    **zone: Any,
) -> Tick:
    """Evaluate the landing sensor over a local folder once (settle time 0, other
    `LandingZone` fields from `zone`) and apply its partitions."""
    landing_zone = LandingZone(url=str(landing), settle_seconds=0, **zone)
    return evaluate(landing_sensor, instance, landing_zone, database_url, cursor)


def evaluate(
    sensor: dg.SensorDefinition,
    instance: dg.DagsterInstance,
    landing: LandingZone,
    database_url: str,
    cursor: str | None,
) -> Tick:
    """One tick of a landing sensor; its partitions are added, as only the daemon would."""
    resources = {"landing": landing, "postgres": PostgresResource(url=database_url)}
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as ctx:
        result = sensor(ctx)
    assert isinstance(result, dg.SensorResult)
    added = [
        key
        for request in result.dynamic_partitions_requests or []
        if isinstance(request, dg.AddDynamicPartitionsRequest)
        for key in request.partition_keys
    ]
    instance.add_dynamic_partitions(batches.name, added)
    return Tick(list(result.run_requests or []), result.cursor, added)


def run(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    request: dg.RunRequest,
    run_config: dict | None = None,
) -> dg.ExecuteInProcessResult:
    """Execute the import job for one requested run (a batch, or a range of batches in its
    tags), as the daemon would."""
    return defs.resolve_job_def("import_batch").execute_in_process(
        partition_key=request.partition_key,
        instance=instance,
        tags=request.tags,
        run_config=run_config,
        raise_on_error=False,
    )


def materializations(result: dg.ExecuteInProcessResult, asset: str) -> list[dict]:
    """The metadata of the asset's materializations in the run, as plain values (several
    assets share the entity step, so they are told apart by asset key, not by step)."""
    return [
        {
            k: getattr(v, "value", v)
            for k, v in event.step_materialization_data.materialization.metadata.items()
        }
        for event in result.get_asset_materialization_events()
        if event.asset_key == dg.AssetKey(asset)
    ]
