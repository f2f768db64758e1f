"""Helpers the tests share: drop files, query Postgres; ticking the sensor and running a
batch in-process are the package's (`defs/in_process.py`), which the bench drives too."""

import gzip
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import psycopg2

from import_pipeline.defs.in_process import Tick, evaluate, materializations, run, tick
from import_pipeline.defs.resources import LandingZone, S3Connection
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


def drop_and_run(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    landing: Path,
    url: str,
    name: str,
    rows: list[dict],
    config: dict | None = None,
) -> dg.ExecuteInProcessResult:
    """Drop `rows` as the CSV file `name`, tick the sensor once and run its one batch."""
    write_csv(landing / name, rows)
    (request,) = tick(instance, landing, url).run_requests
    return run(defs, instance, request, config)


def check(result: dg.ExecuteInProcessResult, asset: str, name: str) -> dg.AssetCheckEvaluation:
    (evaluation,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key.to_user_string() == asset and e.check_name == name
    ]
    return evaluation


class Webhook:
    """A local HTTP server that records what it receives, after an optional delay."""

    def __init__(self, delay: float = 0.0) -> None:
        self.received: list[tuple[dict, bytes]] = []
        self.delay = delay
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(webhook.delay)
                webhook.received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# A small, valid drop of every entity: 2 customers, 2 products, 2 orders, their line items.
CUSTOMERS = [
    {"customer_id": "C1", "email": " Ada@Example.com ", "first_name": "Ada", "country": "UK"},
    {"customer_id": "C2", "email": "bob@example.com", "first_name": "Bob", "country": "FR"},
]
PRODUCTS = [
    {"product_id": "P1", "sku": "SKU-1", "name": "Tea", "price": "3.50", "currency": "gbp"},
    {"product_id": "P2", "sku": "SKU-2", "name": "Cup", "price": "8", "currency": "GBP"},
]
ORDERS = [
    {
        "order_id": "O1",
        "customer_id": "C1",
        "status": "paid",
        "currency": "GBP",
        "total": "15.00",
        "ordered_at": "2024-05-01T10:00:00Z",
    },
    {
        "order_id": "O2",
        "customer_id": "C2",
        "status": "Shipped",
        "currency": "GBP",
        "total": "8.00",
        "ordered_at": "2024-05-02 11:30:00+02:00",
    },
]
LINE_ITEMS = [
    {
        "line_item_id": "O1-1",
        "order_id": "O1",
        "product_id": "P1",
        "quantity": "2",
        "unit_price": "3.50",
        "line_total": "7.00",
    },
    {
        "line_item_id": "O1-2",
        "order_id": "O1",
        "product_id": "P2",
        "quantity": "1",
        "unit_price": "8.00",
        "line_total": "8.00",
    },
    {
        "line_item_id": "O2-1",
        "order_id": "O2",
        "product_id": "P2",
        "quantity": "1",
        "unit_price": "8.00",
        "line_total": "8.00",
    },
]
