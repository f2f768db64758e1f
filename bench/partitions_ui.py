"""What 100,000 batch partitions cost the UI's asset page, and what retention gives back:
`python -m bench.partitions_ui`.

Two fresh Dagster instances (SQLite storage, in a temp DAGSTER_HOME each): one whose
`batches` partitions number `--partitions` (100,000), one with `--kept` (2,000: 90 days of
~22 batches a day, what `partition_retention_sensor` leaves); `--materialized` of them have
a `staged_batch` materialization. For each, `dagster-webserver` serves the code location and
the GraphQL queries the asset page sends for `staged_batch` (its partition keys, its
partition statuses) are timed `--repeat` times; the median and the worst are printed.

    .venv/bin/python -m bench.partitions_ui [--partitions 100000] [--kept 2000]
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import dagster as dg

from bench.run import REPO

ASSET_PAGE = {
    "partition keys": """
        query { assetNodeOrError(assetKey: {path: ["staged_batch"]}) {
          ... on AssetNode { partitionKeysByDimension { name partitionKeys } } } }""",
    "partition statuses": """
        query { assetNodeOrError(assetKey: {path: ["staged_batch"]}) {
          ... on AssetNode { assetPartitionStatuses {
            ... on DefaultPartitionStatuses { materializedPartitions failedPartitions
                                              materializingPartitions } } } } }""",
    "partition stats": """
        query { assetNodeOrError(assetKey: {path: ["staged_batch"]}) {
          ... on AssetNode { partitionStats { numMaterialized numPartitions numFailed } } } }""",
}


def fill(home: Path, partitions: int, materialized: int) -> None:
    """The instance of `home`, with `partitions` batches and `materialized` of them
    materialised (events reported without runs, as a run would store them)."""
    os.environ["DAGSTER_HOME"] = str(home)
    (home / "dagster.yaml").write_text("telemetry: {enabled: false}\n")
    keys = [f"batch_{i:07}-{i:016x}" for i in range(partitions)]
    with dg.DagsterInstance.get() as instance:
        for start in range(0, partitions, 10_000):
            instance.add_dynamic_partitions("batches", keys[start : start + 10_000])
        for key in keys[:materialized]:
            instance.report_runless_asset_event(
                dg.AssetMaterialization("staged_batch", partition=key)
            )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post(port: int, query: str) -> float:
    body = json.dumps({"query": query}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", body, {"Content-Type": "application/json"}
    )
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=600) as response:
        answer = json.loads(response.read())
    if "errors" in answer:
        raise RuntimeError(answer["errors"])
    return time.monotonic() - started


def measure(home: Path, repeat: int) -> dict[str, list[float]]:
    port = free_port()
    env = os.environ | {
        "DAGSTER_HOME": str(home),
        "DATABASE_URL": "postgresql://unused",
        "IMPORT_LANDING_URL": str(home / "landing"),
        "IMPORT_STAGING_URL": str(home / "staging"),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster_webserver",
            "-m",
            "import_pipeline.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                post(port, "query { version }")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        return {name: [post(port, q) for _ in range(repeat)] for name, q in ASSET_PAGE.items()}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="bench.partitions_ui", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--partitions", type=int, default=100_000)
    parser.add_argument("--kept", type=int, default=2_000)
    parser.add_argument("--materialized", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rows = []
    for count in (args.partitions, args.kept):
        with tempfile.TemporaryDirectory(prefix="partitions-ui-") as folder:
            home = Path(folder)
            started = time.monotonic()
            fill(home, count, min(args.materialized, count))
            filled = time.monotonic() - started
            timings = measure(home, args.repeat)
        for name, seconds in timings.items():
            rows.append((count, name, statistics.median(seconds), max(seconds), filled))
    print("| partitions | query | median s | worst s | instance filled in s |")
    print("|---:|---|---:|---:|---:|")
    for count, name, median, worst, filled in rows:
        print(f"| {count:,} | {name} | {median:.3f} | {worst:.3f} | {filled:.0f} |")


if __name__ == "__main__":
    main()
