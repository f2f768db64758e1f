"""Helpers the tests share: drop files, tick the sensor, run a batch, query Postgres."""

import gzip
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import psycopg2

from import_pipeline.defs.partitions import batches
from import_pipeline.defs.resources import LandingZone, PostgresResource, S3Connection
from import_pipeline.defs.sensors import landing_sensor

SAMPLES = Path(__file__).resolve().parent / "data" / "real"
"""The real exports, kept byte for byte as found (see the README beside them for origins)."""


def write_csv(path: Path, rows: list[dict], compress: bool = False) -> Path:
    buffer = io.BytesIO()
    pl.DataFrame(rows).write_csv(buffer)
    data = gzip.compress(buffer.getvalue()) if compress else buffer.getvalue()
    path.write_bytes(data)
    return path


def write_ndjson(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


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


def query(database_url: str, statement: str, params: tuple = ()) -> list[tuple]:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(statement, params or None)
        rows = cur.fetchall()
    conn.close()
    return rows


def materialization(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    """The asset's materialization metadata as plain values."""
    events = materializations(result, asset)
    assert len(events) == 1, f"{asset} materialised {len(events)} times"
    return events[0]


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


def s3_settings(endpoint: str) -> dict:
    """S3Connection fields for the test's moto server."""
    return {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }


class CountingS3(S3Connection):
    """A real S3 client that also counts the keys each ListObjectsV2 call returned, so a
    test can check how much one sensor tick listed."""

    def get_client(self) -> Any:
        client = super().get_client()
        client.meta.events.register("after-call.s3.ListObjectsV2", _count_keys)
        return client


LISTED: list[int] = []
"""Keys returned by each ListObjectsV2 call of a `CountingS3` client, in call order."""


def _count_keys(parsed: dict, **_: Any) -> None:
    LISTED.append(parsed.get("KeyCount", 0))


def put(client: Any, bucket: str, key: str, data: bytes) -> None:
    client.put_object(Bucket=bucket, Key=key, Body=data)


def csv_bytes(rows: list[dict]) -> bytes:
    buffer = io.BytesIO()
    pl.DataFrame(rows).write_csv(buffer)
    return buffer.getvalue()


def s3_tick(
    instance: dg.DagsterInstance,
    landing: LandingZone,
    database_url: str,
    cursor: str | None = None,
) -> Tick:
    """Evaluate the landing sensor over an S3 zone once and apply its partitions."""
    return evaluate(landing_sensor, instance, landing, database_url, cursor)


ORDER = {
    "order_id": "O1",
    "customer_id": "C1",
    "status": "paid",
    "total": "5",
    "ordered_at": "2024-05-01",
}
"""One canonical order row (of customer C1), for tests that vary it."""


LAYOUTS = {
    "root files": (False, ["customers.csv"], ["_SUCCESS", "manifest.json"], ["customers.csv"]),
    "folder batches": (
        False,
        ["drop/customers.csv", "drop/sub/orders.csv"],
        ["_SUCCESS", "manifest.json", "drop/manifest.json", "drop/sub/manifest.json"],
        ["drop/"],
    ),
    "tenant folders": (
        True,
        ["acme/customers.csv"],
        ["manifest.json", "acme/_SUCCESS", "acme/manifest.json"],
        ["acme/customers.csv"],
    ),
    "tenant folder batches": (
        True,
        ["acme/drop/customers.csv"],
        ["acme/manifest.json", "acme/drop/manifest.json", "acme/drop/sub/_SUCCESS"],
        ["acme/drop/"],
    ),
    "folder batches read with tenants on": (
        True,
        ["drop/customers.csv"],
        ["drop/_SUCCESS", "drop/manifest.json"],
        ["drop/customers.csv"],
    ),
}
"""Layout -> (tenants from the path, data files, markers, the batch keys they make)."""
