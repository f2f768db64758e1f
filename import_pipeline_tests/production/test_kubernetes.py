"""deploy/kubernetes/values.yaml for Dagster's Helm chart: the instance the chart renders
from it, loaded with dagster-k8s against the session's real Postgres, launches every run
as a pod with resource requests, queues runs with compose's limits, keeps Dagster's
storage in Postgres and compute logs in S3; deploy/ecs's EcsRunLauncher config passes
dagster-aws's own schema."""

from pathlib import Path

import dagster as dg
import psycopg2
import pytest
import yaml
from dagster._config import process_config
from dagster_aws.ecs import EcsRunLauncher
from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
from dagster_k8s import K8sRunLauncher
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from import_pipeline_tests.production.helm_instance import UnknownValue, render_instance

pytestmark = pytest.mark.postgres

PROJECT = Path(__file__).resolve().parents[2]
VALUES = PROJECT / "deploy" / "kubernetes" / "values.yaml"
KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "test", "cluster": {"server": "https://127.0.0.1:6443"}}],
    "users": [{"name": "test", "user": {"token": "test"}}],
    "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
    "current-context": "test",
}


def values() -> dict:
    return yaml.safe_load(VALUES.read_text())


@pytest.fixture
def dagster_home(
    tmp_path: Path, database_url: str, s3_env: str, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """DAGSTER_HOME holding the rendered instance, its Postgres aimed at a fresh database
    (as an operator sets postgresqlHost) and, outside a cluster, a kubeconfig file."""
    settings = values()
    dsn = psycopg2.extensions.parse_dsn(database_url)
    host = dsn.get("host", "")
    if host.startswith("/"):
        monkeypatch.setenv("PGHOST", host)
        host = ""
    settings["postgresql"] |= {
        "postgresqlHost": host,
        "postgresqlUsername": dsn.get("user", "postgres"),
        "postgresqlDatabase": dsn["dbname"],
        "service": {"port": int(dsn.get("port", 5432))},
    }
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", dsn.get("password", ""))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(KUBECONFIG))
    settings["runLauncher"]["config"]["k8sRunLauncher"] |= {
        "loadInclusterConfig": False,
        "kubeconfigFile": str(kubeconfig),
    }
    home = tmp_path / "dagster_home"
    home.mkdir()
    instance = render_instance(settings, release="import-pipeline", namespace="imports")
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance))
    return home


def test_every_run_is_a_pod_of_its_own_with_resource_requests(dagster_home: Path):
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        launcher = instance.run_launcher
        assert isinstance(launcher, K8sRunLauncher)
        assert launcher.supports_check_run_worker_health
        assert launcher.job_namespace == "imports"
        assert launcher.instance_config_map == "import-pipeline-dagster-instance"
        assert launcher.postgres_password_secret == "dagster-postgresql-secret"
        assert launcher.env_secrets == ["import-pipeline-env"]
        assert launcher.resources["requests"] == {"cpu": "1", "memory": "2Gi"}
        assert launcher.resources["limits"] == {"memory": "4Gi"}
        scratch = launcher.run_k8s_config["container_config"]["volumeMounts"]
        assert scratch == [{"name": "scratch", "mountPath": "/tmp"}]
        assert instance.run_monitoring_enabled
        assert (instance.run_retries_enabled, instance.run_retries_max_retries) == (True, 2)


def test_runs_queue_with_the_same_limits_as_compose(dagster_home: Path):
    production = yaml.safe_load((PROJECT / "dagster.yaml").read_text())
    compose = production["concurrency"]["runs"]
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, dg.QueuedRunCoordinator)
        dequeue = {k: v for k, v in coordinator.inst_data.config_dict.items() if "dequeue" in k}
        assert dequeue == production["run_coordinator"]["config"]
        queue = instance.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == compose["max_concurrent_runs"]
        assert queue.tag_concurrency_limits == compose["tag_concurrency_limits"]


def test_dagster_keeps_its_storage_in_postgres_and_logs_in_s3(dagster_home: Path):
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        logs = instance.compute_log_manager
        assert isinstance(logs, S3ComputeLogManager)
        assert logs._s3_bucket == "import-pipeline-logs"


def test_a_setting_the_chart_does_not_read_is_refused():
    settings = values()
    settings["dagsterDaemon"]["runMonitoring"]["maxRuntimeSeconds"] = 14400
    with pytest.raises(UnknownValue, match="maxRuntimeSeconds"):
        render_instance(settings, release="import-pipeline", namespace="imports")


def test_the_ecs_run_launcher_config_passes_dagster_aws_schema():
    config = yaml.safe_load((PROJECT / "deploy" / "ecs" / "run_launcher.yaml").read_text())
    launcher = config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_aws.ecs", "EcsRunLauncher")
    result = process_config(EcsRunLauncher.config_type(), launcher["config"])
    assert result.success, result.errors
    assert result.value["run_resources"]["memory"] == "8192"
