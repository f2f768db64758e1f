"""The production shape without containers: the top-level dagster.yaml (the default run
launcher in place of Docker's, the rest as shipped), `dagster code-server start`,
`dagster-daemon run` and `dagster-webserver` as real processes, the embedded Postgres, S3 on
a moto server, a real webhook receiver.

One stack serves both scenarios: a folder batch loads end to end, and a run whose code server
is killed mid-run (what a redeploy does) is failed and its batch loads after all.
"""

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg2
import pytest
import yaml
from dagster._core.storage.tags import PARENT_RUN_ID_TAG, SENSOR_NAME_TAG
from dagster._grpc.client import DagsterGrpcClient

from import_pipeline.core.notify import SIGNATURE_HEADER
from import_pipeline.db.connect import connected
from import_pipeline.db.migrate import migrate
from import_pipeline.defs.resources import S3Connection
from import_pipeline.devserver import PLANNED_EVENTS_PER_RUN
from import_pipeline_tests.production.processes import BIN, free_port, wait_for
from import_pipeline_tests.support import Webhook, query, s3_settings

pytestmark = [pytest.mark.production, pytest.mark.postgres, pytest.mark.s3]

LANDING_SENSOR = "landing_sensor"
"""The landing sensor that watches an S3 landing zone (the one name to change if it is
renamed)."""

QUEUE_LIFECYCLE = [
    dg.DagsterEventType.RUN_ENQUEUED,
    dg.DagsterEventType.RUN_STARTING,
    dg.DagsterEventType.RUN_START,
    dg.DagsterEventType.RUN_SUCCESS,
]
"""A queued run's events: the daemon's queue reports RUN_STARTING when it launches it."""

PROJECT = Path(__file__).resolve().parents[2]
DEMO = PROJECT / "examples" / "demo"
SECRET = "production-shape-secret"

STRANDED_BOUND_SECONDS = 90
"""From the kill of the code server to its run leaving STARTED: restarting the code server
(~10 s here) and two looks of stranded_run_sensor, 15 s apart, with room for a slow CI."""


def create_database(server_url: str) -> str:
    """A fresh database on the session's server; its libpq connection string."""
    name = f"prod_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    dsn = psycopg2.extensions.parse_dsn(server_url) | {"dbname": name}
    return " ".join(f"{k}={v}" for k, v in dsn.items())


def instance_config(home: Path) -> None:
    """The shipped dagster.yaml with the default run launcher: each run a child process of
    the code server, as on a machine without Docker."""
    config = yaml.safe_load((PROJECT / "dagster.yaml").read_text())
    config["run_launcher"] = {"module": "dagster", "class": "DefaultRunLauncher"}
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))


@dataclass
class Stack:
    """The running processes and where everything lives."""

    home: Path
    env: dict[str, str]
    database_url: str
    bucket: str
    s3: Any
    webhook: Webhook
    code_port: int
    processes: dict[str, subprocess.Popen]

    def start(self, name: str, command: list[str]) -> None:
        """A process in a session of its own, so a kill takes its children with it."""
        log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        self.processes[name] = subprocess.Popen(
            command,
            env=self.env,
            cwd=self.home,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def start_code_server(self) -> None:
        self.start(
            "code",
            [str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1"]
            + ["-p", str(self.code_port), "-m", "import_pipeline.definitions"]
            + ["--location-name", "import_pipeline"],
        )
        client = DagsterGrpcClient(host="127.0.0.1", port=self.code_port)
        wait_for("code server", lambda: self.answers(client), timeout=90)

    def answers(self, client: DagsterGrpcClient) -> bool:
        try:
            client.ping("")
        except Exception:  # not up yet, or still loading the code location
            assert self.processes["code"].poll() is None, self.log("code")
            return False
        return True

    def kill(self, name: str) -> None:
        """SIGKILL the process and everything it started, as a container stop does."""
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for process in self.processes.values():
            os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def log(self, name: str) -> str:
        return (self.home / f"{name}.log").read_text(errors="replace")[-3000:]

    def upload(self, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=f"landing/{key}", Body=data)

    def runs(self, instance: dg.DagsterInstance, partition: str) -> list[dg.DagsterRun]:
        return list(instance.get_runs(dg.RunsFilter(tags={"dagster/partition": partition})))


@pytest.fixture(scope="module")
def stack(server_url: str, s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory):
    """The stack, with two batches landed before the daemon's first tick: a folder of
    products (scenario 1) and a customers file that will wait on a lock (scenario 2)."""
    home = tmp_path_factory.mktemp("dagster_home")
    instance_config(home)
    code_port, web_port = free_port(), free_port()
    (home / "workspace.yaml").write_text(
        yaml.safe_dump(
            {
                "load_from": [
                    {
                        "grpc_server": {
                            "host": "127.0.0.1",
                            "port": code_port,
                            "location_name": "import_pipeline",
                        }
                    }
                ]
            }
        )
    )
    dagster_db, imports_db = create_database(server_url), create_database(server_url)
    with connected(imports_db) as conn:
        migrate(conn)
    bucket = f"prod-{uuid.uuid4().hex[:12]}"
    s3 = S3Connection(**s3_settings(s3_endpoint)).get_client()
    s3.create_bucket(Bucket=bucket)
    webhook = Webhook()
    storage = psycopg2.extensions.parse_dsn(dagster_db)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_USER": storage.get("user", "postgres"),
        "DAGSTER_PG_PASSWORD": storage.get("password", ""),
        "DAGSTER_PG_HOST": "" if storage.get("host", "").startswith("/") else storage["host"],
        "DAGSTER_PG_PORT": storage.get("port", "5432"),
        "DAGSTER_PG_DB": storage["dbname"],
        "DAGSTER_COMPUTE_LOGS_BUCKET": bucket,
        "DATABASE_URL": imports_db,
        "IMPORT_LANDING_URL": f"s3://{bucket}/landing",
        "IMPORT_STAGING_URL": f"s3://{bucket}/staging",
        "IMPORT_WEBHOOK_URLS": webhook.url,
        "IMPORT_WEBHOOK_SECRET": SECRET,
        "IMPORT_UI_BASE_URL": f"http://127.0.0.1:{web_port}",
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        **PLANNED_EVENTS_PER_RUN,  # as the image sets it
    }
    if storage.get("host", "").startswith("/"):
        env["PGHOST"] = storage["host"]  # a Unix-socket server, reached through libpq
    running = Stack(home, env, imports_db, bucket, s3, webhook, code_port, {})
    products = (DEMO / "products.ndjson").read_bytes()
    rows = len(products.splitlines())
    running.upload("drop-1/products.ndjson", products)
    manifest = {"files": [{"name": "products.ndjson", "rows": rows}]}
    running.upload("drop-1/manifest.json", json.dumps(manifest).encode())
    blocker = psycopg2.connect(imports_db)
    with blocker.cursor() as cur:  # writes to customers wait until the blocker lets go
        cur.execute("LOCK TABLE commerce.customers IN SHARE MODE")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        try:
            running.start_code_server()
            running.start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"])
            running.start(
                "webserver",
                [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(web_port)]
                + ["-w", "workspace.yaml"],
            )
            wait_for("webserver", lambda: serves(f"http://127.0.0.1:{web_port}"), timeout=90)
            with dg.DagsterInstance.from_config(str(home)) as instance:
                yield running, instance, blocker
        finally:
            blocker.close()
            running.stop()
            webhook.close()


def serves(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def partition_of(stack: Stack, key_part: str) -> str:
    """The partition key the landing sensor gave the batch whose URI contains `key_part`."""
    rows = query(stack.database_url, "SELECT partition_key, uri FROM ingest.files")
    keys = [key for key, uri in rows if key_part in uri]
    return keys[0] if keys else ""


def finished(stack: Stack, instance: dg.DagsterInstance, partition: str) -> dg.DagsterRun | None:
    runs = stack.runs(instance, partition)
    return runs[0] if runs and runs[0].is_finished else None


def test_a_folder_batch_on_s3_is_queued_loaded_logged_and_announced(stack):
    running, instance, _ = stack
    health = [sys.executable, str(PROJECT / "docker" / "code_health.py"), str(running.code_port)]
    assert subprocess.run(health, capture_output=True, timeout=60).returncode == 0
    partition = wait_for("ledger row", lambda: partition_of(running, "drop-1"), timeout=60)
    run = wait_for("finished run", lambda: finished(running, instance, partition), timeout=90)
    assert run.status == dg.DagsterRunStatus.SUCCESS, running.log("code")
    assert run.tags[SENSOR_NAME_TAG] == LANDING_SENSOR
    lifecycle = [
        e.dagster_event_type
        for e in instance.all_logs(run.run_id)
        if e.dagster_event_type in QUEUE_LIFECYCLE
    ]
    assert lifecycle == QUEUE_LIFECYCLE  # queued, then taken off the queue by the daemon
    products = query(running.database_url, "SELECT count(*) FROM commerce.products")[0][0]
    assert products == len((DEMO / "products.ndjson").read_bytes().splitlines())

    def compute_logs() -> list[str]:
        listed = running.s3.list_objects_v2(Bucket=running.bucket, Prefix="dagster-logs/")
        return [o["Key"] for o in listed.get("Contents", []) if run.run_id in o["Key"]]

    assert wait_for("compute logs in the bucket", compute_logs, timeout=30)

    def announced() -> list[tuple[dict, bytes]]:
        return [
            (headers, body)
            for headers, body in running.webhook.received
            if json.loads(body)["run_id"] == run.run_id
        ]

    # a run status sensor looks every 30 s: a tick may come just before the run ends
    ((headers, body),) = wait_for("webhook", announced, timeout=75)
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == expected
    assert json.loads(body)["status"] == "succeeded"


def test_a_run_whose_code_server_is_killed_fails_and_its_batch_loads_after_all(stack):
    running, instance, blocker = stack
    # NOTE: uploaded on its own tick: landed with the folder batch, one run would take both
    # (many files of a tenant and profile share a run) and the blocker would hold that too.
    running.upload("customers_late.csv", (DEMO / "customers_demo.csv").read_bytes())
    partition = wait_for("ledger row", lambda: partition_of(running, "customers_late"), 60)

    def started() -> dg.DagsterRun | None:
        runs = running.runs(instance, partition)
        return runs[0] if runs and runs[0].status == dg.DagsterRunStatus.STARTED else None

    stranded = wait_for("started run", started, timeout=90)
    running.kill("code")
    killed_at = time.monotonic()
    running.start_code_server()

    def left_started() -> dg.DagsterRun | None:
        run = instance.get_run_by_id(stranded.run_id)
        return run if run and run.status != dg.DagsterRunStatus.STARTED else None

    ended = wait_for("end of the stranded run", left_started, STRANDED_BOUND_SECONDS)
    took = time.monotonic() - killed_at
    assert ended.status == dg.DagsterRunStatus.FAILURE, f"{ended.status} after {took:.0f} s"
    blocker.rollback()  # the lock goes; the batch can load now

    def retried() -> dg.DagsterRun | None:
        for run in running.runs(instance, partition):
            if run.tags.get(PARENT_RUN_ID_TAG) == stranded.run_id and run.is_finished:
                return run
        return None

    retry = wait_for("finished retry of the stranded run", retried, timeout=90)
    assert retry.status == dg.DagsterRunStatus.SUCCESS, running.log("code")
    customers = query(running.database_url, "SELECT count(*) FROM commerce.customers")[0][0]
    assert customers == len((DEMO / "customers_demo.csv").read_text().splitlines()) - 1
