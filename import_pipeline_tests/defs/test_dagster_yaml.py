"""The production dagster.yaml (top level): Dagster's storage in Postgres, a run queue with
limits, run retries and monitoring, compute logs in S3, a container per run; loaded into a
real instance against the session's real Postgres, runs queued through the CLI."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
from dagster._utils.tags import TagConcurrencyLimitsCounter
from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
from dagster_docker import DockerRunLauncher
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from import_pipeline.core.landing import DEFAULT_TENANT
from import_pipeline.defs.run_queue import queue_tags

pytestmark = pytest.mark.postgres

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dagster_home(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DAGSTER_HOME holding the project's dagster.yaml, its DAGSTER_PG_* variables aimed
    at a fresh database (a Unix-socket server is reached through libpq's PGHOST)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "dagster.yaml", home / "dagster.yaml")
    dsn = psycopg2.extensions.parse_dsn(database_url)
    host = dsn.get("host", "")
    if host.startswith("/"):
        monkeypatch.setenv("PGHOST", host)
        host = ""
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_USER", dsn.get("user", "postgres"))
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", dsn.get("password", ""))
    monkeypatch.setenv("DAGSTER_PG_HOST", host)
    monkeypatch.setenv("DAGSTER_PG_PORT", dsn.get("port", "5432"))
    monkeypatch.setenv("DAGSTER_PG_DB", dsn["dbname"])
    monkeypatch.setenv("DAGSTER_COMPUTE_LOGS_BUCKET", "compute-logs")
    return home


def test_the_instance_keeps_everything_in_postgres_behind_a_limited_queue(dagster_home: Path):
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        assert {"key": "dagster/partition", "limit": 4} in limits
        assert (instance.run_retries_enabled, instance.run_retries_max_retries) == (True, 2)


def test_each_run_gets_its_own_container_with_a_bounded_runtime(dagster_home: Path):
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        assert isinstance(instance.run_launcher, DockerRunLauncher)
        assert instance.run_launcher.supports_check_run_worker_health
        assert instance.run_monitoring_enabled
        assert 0 < instance.run_monitoring_max_runtime_seconds <= 6 * 3600


def test_compute_logs_go_to_the_bucket_named_by_the_environment(dagster_home: Path):
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        logs = instance.compute_log_manager
        assert isinstance(logs, S3ComputeLogManager)
        assert logs._s3_bucket == "compute-logs"


def test_runs_of_four_tenants_or_of_none_go_four_at_once_and_two_per_tenant(dagster_home: Path):
    """The queue's own counter, fed the tags the landing sensor gives runs."""
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits

    def admitted(tenants: list[str]) -> int:
        counter = TagConcurrencyLimitsCounter(limits, [])
        started = 0
        for n, tenant in enumerate(tenants):
            run = dg.DagsterRun(
                job_name="import_batch",
                tags={"dagster/partition": f"batch-{n}", "import/tenant": tenant}
                | queue_tags(tenant),
            )
            if not counter.is_blocked(run):
                counter.update_counters_with_launched_item(run)
                started += 1
        return started

    assert admitted([DEFAULT_TENANT] * 6) == 4
    assert admitted(["acme"] * 6) == 2
    assert admitted(["acme", "acme", "acme", "globex", "globex", "initech"]) == 4


def test_a_launched_import_run_waits_in_the_queue(dagster_home: Path, pipeline_env: str):
    tags = {"dagster/partition": "customers_1.csv-0123456789ab", "import/tenant": "acme"}
    launched = subprocess.run(
        [sys.executable, "-m", "dagster", "job", "launch", "-m", "import_pipeline.definitions"]
        + ["-j", "import_batch", "--tags", json.dumps(tags)],
        cwd=dagster_home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert launched.returncode == 0, launched.stderr[-2000:]
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        (run,) = instance.get_runs()
    assert (run.job_name, run.status) == ("import_batch", dg.DagsterRunStatus.QUEUED)
    assert run.tags["import/tenant"] == "acme"
