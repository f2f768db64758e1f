"""deploy/kubernetes/values.yaml for Dagster's Helm chart: the instance the chart renders
from it (helm's render is committed beside the values; the Python renderer must produce it,
and with DAGSTER_HELM_CHART set, helm renders it again here), loaded with dagster-k8s
against the session's real Postgres, launches every run as a pod with resource requests,
queues runs with compose's limits, keeps Dagster's storage in Postgres and compute logs in
S3; deploy/ecs's EcsRunLauncher config passes dagster-aws's own schema."""

import os
import subprocess
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
from import_pipeline_tests.production.helm_render import (
    NAMESPACE,
    PROJECT,
    RELEASE,
    RENDERED,
    RERENDER,
    VALUES,
    committed_sha256,
    helm,
    render_with_helm,
    values_sha256,
)

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


def test_the_python_renderer_gives_what_helm_rendered_from_the_values():
    helm_render = yaml.safe_load(RENDERED.read_text())
    assert render_instance(values(), release=RELEASE, namespace=NAMESPACE) == helm_render


def test_the_committed_render_is_of_the_values_as_they_are():
    assert committed_sha256(RENDERED.read_text()) == values_sha256(), (
        f"deploy/kubernetes/values.yaml changed since {RENDERED.name} was rendered; "
        f"render it again with Dagster's chart: {RERENDER}"
    )


def test_helm_renders_the_committed_instance_from_the_values():
    chart = os.environ.get("DAGSTER_HELM_CHART")
    if not chart:
        pytest.skip("DAGSTER_HELM_CHART (a directory or .tgz of Dagster's chart) is not set")
    if not helm().exists():
        pytest.skip(f"no helm at {helm()} (the k8s extra ships it for Linux x86_64 only)")
    try:
        rendered = render_with_helm(Path(chart))
    except subprocess.CalledProcessError as error:
        pytest.fail(f"helm refused the values: {error.stderr}")
    assert yaml.safe_load(rendered) == yaml.safe_load(RENDERED.read_text()), (
        f"the chart at {chart} renders another instance than {RENDERED.name}: {RERENDER}"
    )


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
    instance = render_instance(settings, release=RELEASE, namespace=NAMESPACE)
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance))
    return home


@pytest.mark.postgres
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
        assert not instance.run_retries_retry_on_asset_or_op_failure
        assert instance.run_monitoring_max_runtime_seconds == 14400


@pytest.mark.postgres
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


@pytest.mark.postgres
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
    settings["dagsterDaemon"]["runMonitoring"]["maxRuntimeMinutes"] = 240
    with pytest.raises(UnknownValue, match="maxRuntimeMinutes"):
        render_instance(settings, release=RELEASE, namespace=NAMESPACE)


def test_the_ecs_run_launcher_config_passes_dagster_aws_schema():
    config = yaml.safe_load((PROJECT / "deploy" / "ecs" / "run_launcher.yaml").read_text())
    launcher = config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_aws.ecs", "EcsRunLauncher")
    result = process_config(EcsRunLauncher.config_type(), launcher["config"])
    assert result.success, result.errors
    assert result.value["run_resources"]["memory"] == "8192"
