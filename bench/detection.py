"""New files in a large bucket: `python -m bench.detection [--old 100000] [--samples 3]`.

One moto server (S3 and SQS over HTTP), one embedded Postgres, `--old` objects already in
the bucket and in the ledger (loaded long ago), then for each way of finding files the
time from an upload to the landing sensor's run request, and to its rows being loaded:

- listing: the bounded listing alone (1,000 keys a tick, wrapping around);
- sqs: S3 event notifications read from the queue, while the safety-net listing pass is
  under way (each tick also lists its 1,000-key window);
- processed: the old objects lie below `_processed/`, which the listing jumps over.

The old objects are put by moto's own backend in the server's process (an upload over
HTTP goes at ~60-100 objects/s here), before the bucket notifies the queue; the sensor
only ever talks HTTP. sqs and processed tick at the daemon's 5 s cadence, the upload at a
random moment of it. listing would wait minutes per sample at 100k, so its ticks run back
to back and its time is `ticks x max(5 s, tick)`. "loaded" adds the `import_batch` run
executed in-process (no run launcher start-up: a daemon adds its process start).
"""

import argparse
import json
import os
import random
import socket
import sys
import time
import uuid
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import boto3
import dagster as dg
import psycopg2
from psycopg2.extras import execute_values

from bench import databases, report
from import_pipeline.defs.landing_events import LISTED_AT
from import_pipeline.defs.resources import LandingZone, PostgresResource, S3Connection
from import_pipeline.defs.sensors import TAG_URI, landing_sensor, ledger_batches

INTERVAL_S = 5.0
"""The daemon's landing sensor cadence (minimum_interval_seconds 4 -> a tick every ~5 s)."""
BUCKET = "bench-detection"
OLD_DAY = "_processed/2026-01-01/"
ROW = b"customer_id,email\nC1,ada@example.com\n"


@dataclass
class Sample:
    mode: str
    requested_s: float
    loaded_s: float
    ticks: int
    tick_s: float


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def seed(count: int) -> float:
    """Put `count` old objects straight into moto's backend (same process); seconds taken."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    start = time.perf_counter()
    for i in range(count):
        key = f"landing/{OLD_DAY}customers_{i:07d}.csv"
        backend.put_object(BUCKET, key, ROW, disable_notification=True)
    return time.perf_counter() - start


def register_old(zone: LandingZone, dsn: str) -> float:
    """The old objects as succeeded batches in the ledger, in one statement per 10,000
    (the sensor's own `ledger.register` goes row by row); seconds taken."""
    start = time.perf_counter()
    old = zone.batches(zone.list_files())
    (profile,) = {b.profile for b in ledger_batches(old[:1])}  # every old file is alike
    rows = [(b.partition_key, b.uri, b.tenant, profile, b.version, b.landed_at) for b in old]
    with closing(psycopg2.connect(dsn)) as conn, conn, conn.cursor() as cur:
        execute_values(
            cur,
            "INSERT INTO ingest.files (partition_key, uri, tenant, profile, version, landed_at,"
            " status, finished_at) VALUES %s",
            rows,
            template="(%s, %s, %s, %s, %s, %s, 'succeeded', now())",
            page_size=10_000,
        )
    return time.perf_counter() - start


def notify(endpoint: str) -> tuple[str, object]:
    """A queue receiving the bucket's ObjectCreated events below `landing/`."""
    settings = {"endpoint_url": endpoint, "region_name": "us-east-1"}
    sqs = boto3.client("sqs", **settings)
    url = sqs.create_queue(QueueName=f"landing-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    rule = {"Key": {"FilterRules": [{"Name": "prefix", "Value": "landing/"}]}}
    boto3.client("s3", **settings).put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn["Attributes"]["QueueArn"],
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": rule,
                }
            ]
        },
    )
    sqs.purge_queue(QueueUrl=url)
    return url, sqs


class Sensor:
    """The landing sensor ticking over one zone, its partitions applied as the daemon does."""

    def __init__(self, instance: dg.DagsterInstance, zone: LandingZone, dsn: str, cursor: dict):
        self.instance, self.zone, self.dsn = instance, zone, dsn
        self.cursor = json.dumps(cursor)
        self.durations: list[float] = []

    def tick(self) -> list[dg.RunRequest]:
        resources = {"landing": self.zone, "postgres": PostgresResource(url=self.dsn)}
        start = time.perf_counter()
        with dg.build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources=resources
        ) as context:
            result = landing_sensor(context)
        self.durations.append(time.perf_counter() - start)
        self.cursor = result.cursor
        requests = list(result.run_requests or [])
        self.instance.add_dynamic_partitions("batches", [r.partition_key for r in requests])
        return requests


def upload(client: object, key: str) -> float:
    client.put_object(Bucket=BUCKET, Key=key, Body=ROW)
    return time.perf_counter()


def until_requested(sensor: Sensor, uri: str, paced: bool, limit: int) -> tuple[dg.RunRequest, int]:
    """Tick until a request for `uri` comes (paced: every INTERVAL_S, else back to back)."""
    for ticks in range(1, limit + 1):
        started = time.perf_counter()
        for request in sensor.tick():
            if request.tags[TAG_URI] == uri:
                return request, ticks
        if paced:
            time.sleep(max(0.0, INTERVAL_S - (time.perf_counter() - started)))
    raise TimeoutError(f"{uri} not requested within {limit} ticks")


def load(defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest) -> float:
    start = time.perf_counter()
    result = defs.resolve_job_def("import_batch").execute_in_process(
        partition_key=request.partition_key, instance=instance, tags=request.tags
    )
    assert result.success
    return time.perf_counter() - start


def measure(mode: str, sensor: Sensor, client, root: str, defs, instance, old: int) -> Sample:
    # anywhere among the old keys, so a listing finds it after a uniform share of a pass
    name = f"customers_{random.randrange(old):07d}_new_{uuid.uuid4().hex[:8]}.csv"
    paced = mode != "listing"
    uploaded = upload(client, f"{root}{name}")
    if paced:
        time.sleep(random.uniform(0, INTERVAL_S))  # the next tick comes at any moment
    uri = f"s3://{BUCKET}/{root}{name}"
    request, ticks = until_requested(sensor, uri, paced, old // 1000 + 3)
    tick_s = sum(sensor.durations[-ticks:]) / ticks
    requested = time.perf_counter() - uploaded
    if not paced:
        requested = ticks * max(INTERVAL_S, tick_s)
    return Sample(mode, requested, requested + load(defs, instance, request), ticks, tick_s)


def run(old: int, samples: int, modes: list[str], work: Path) -> tuple[list[Sample], dict]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ |= {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    facts = {"old objects": old, "seconds to seed (moto backend)": round(seed(old), 1)}
    dsn = databases.fresh_database(databases.server_url(work), "detection")
    os.environ |= {
        "DATABASE_URL": dsn,
        "IMPORT_LANDING_URL": f"s3://{BUCKET}/landing/",
        "IMPORT_STAGING_URL": str(work / "staging"),
    }
    aws = S3Connection()
    old_root = f"landing/{OLD_DAY}"
    listing = LandingZone(url=f"s3://{BUCKET}/{old_root}", s3=aws)
    facts["seconds to register them in the ledger"] = round(register_old(listing, dsn), 1)
    queue_url, _ = notify(endpoint)
    events = LandingZone(
        url=f"s3://{BUCKET}/{old_root}", s3=aws, queue_url=queue_url, queue_wait_seconds=0
    )
    processed = LandingZone(url=f"s3://{BUCKET}/landing/", s3=aws, move_processed=True)
    from import_pipeline.definitions import defs as load_definitions

    defs = load_definitions()
    found: list[Sample] = []
    with dg.instance_for_test() as instance:
        mid_pass = {"after": f"customers_{old // 2:07d}.csv", LISTED_AT: time.time()}
        for mode, zone, root, cursor in (
            ("listing", listing, old_root, {}),
            ("sqs", events, old_root, mid_pass),
            ("processed", processed, "landing/", {}),
        ):
            if mode not in modes:
                continue
            sensor = Sensor(instance, zone, dsn, cursor)
            for _ in range(samples):
                found.append(measure(mode, sensor, client, root, defs, instance, old))
                print(found[-1], flush=True)
    server.stop()
    return found, facts


def markdown(found: list[Sample], facts: dict, argv: list[str]) -> str:
    lines = [
        "## New-file detection in a large bucket (`bench/detection.py`)",
        "",
        f"Command: `python -m bench.detection {' '.join(argv)}`".rstrip(),
        "",
        *(f"- {k}: {v}" for k, v in facts.items()),
        "",
        "| mode | sample | upload -> run request | upload -> loaded | ticks | s per tick |",
        "|---|---|---|---|---|---|",
    ]
    counts: dict[str, int] = {}
    for s in found:
        counts[s.mode] = counts.get(s.mode, 0) + 1
        lines.append(
            f"| {s.mode} | {counts[s.mode]} | {s.requested_s:.1f} s | {s.loaded_s:.1f} s "
            f"| {s.ticks} | {s.tick_s:.2f} |"
        )
    machine = report.machine()
    lines += ["", *(f"- {k}: {v}" for k, v in machine.items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--modes", default="listing,sqs,processed")
    parser.add_argument("--work", type=Path, default=Path("bench/out/detection"))
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    found, facts = run(args.old, args.samples, args.modes.split(","), args.work)
    text = markdown(found, facts, sys.argv[1:] if argv is None else argv)
    print(text)
    (args.work / "detection.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
