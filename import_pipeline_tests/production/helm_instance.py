"""The instance `dagster.yaml` Dagster's Helm chart renders from a values file, for the
settings deploy/kubernetes/values.yaml uses: the chart's `configmap-instance.yaml` and its
`helpers/instance/*.tpl`, written out in Python, because the chart is on no registry this
project installs from. test_kubernetes.py pins it to helm's own render of our values
(deploy/kubernetes/rendered-instance.yaml, helm_render.py). A key of a covered section that
the templates do not read is refused, so a misspelled setting fails the test instead of
vanishing from the rendered instance."""

from typing import Any

SECTIONS = {
    ("global",): {"postgresqlSecretName", "dagsterHome", "serviceAccountName"},
    ("postgresql",): {
        "enabled",
        "postgresqlHost",
        "postgresqlUsername",
        "postgresqlDatabase",
        "postgresqlScheme",
        "postgresqlParams",
        "service",
    },
    ("runLauncher", "config", "k8sRunLauncher"): {
        "loadInclusterConfig",
        "kubeconfigFile",
        "jobNamespace",
        "imagePullPolicy",
        "image",
        "envConfigMaps",
        "envSecrets",
        "envVars",
        "volumeMounts",
        "volumes",
        "labels",
        "resources",
        "failPodOnRunFailure",
        "schedulerName",
        "securityContext",
        "runK8sConfig",
    },
    ("dagsterDaemon", "runCoordinator", "config", "queuedRunCoordinator"): {
        "maxConcurrentRuns",
        "tagConcurrencyLimits",
        "dequeueIntervalSeconds",
        "dequeueUseThreads",
        "dequeueNumWorkers",
    },
    ("dagsterDaemon", "runMonitoring"): {
        "enabled",
        "startTimeoutSeconds",
        "cancelTimeoutSeconds",
        "maxRuntimeSeconds",
        "maxResumeRunAttempts",
        "pollIntervalSeconds",
        "freeSlotsAfterRunEndSeconds",
    },
    ("dagsterDaemon", "runRetries"): {"enabled", "maxRetries", "retryOnAssetOrOpFailure"},
    ("dagsterDaemon", "sensors"): {"useThreads", "numWorkers", "numSubmitWorkers"},
    ("dagsterDaemon", "schedules"): {"useThreads", "numWorkers", "numSubmitWorkers"},
    ("computeLogManager", "config", "s3ComputeLogManager"): {
        "bucket",
        "localDir",
        "prefix",
        "useSsl",
        "verify",
        "verifyCertPath",
        "endpointUrl",
        "skipEmptyFiles",
        "uploadInterval",
        "uploadExtraArgs",
        "showUrlOnly",
        "region",
    },
}
# The chart's own values.yaml defaults for tick retention: helm merges ours onto them.
TICKS_KEPT = {"failure": -1, "skipped": 7, "started": -1, "success": -1}
RETENTION_DEFAULTS = {
    "sensor": {"purgeAfterDays": TICKS_KEPT},
    "schedule": {"purgeAfterDays": -1},
    "autoMaterialize": {"purgeAfterDays": TICKS_KEPT},
}
RETENTION_KEYS = {"sensor": "sensor", "schedule": "schedule", "autoMaterialize": "auto_materialize"}
RUN_K8S_CONFIG = {
    "containerConfig": "container_config",
    "podSpecConfig": "pod_spec_config",
    "podTemplateSpecMetadata": "pod_template_spec_metadata",
    "jobSpecConfig": "job_spec_config",
    "jobMetadata": "job_metadata",
}


class UnknownValue(ValueError):
    """A values key the chart's instance templates never read."""


def unread_keys(values: dict) -> list[str]:
    """Keys of the covered sections that the chart's templates would silently ignore."""
    unread = []
    for path, known in SECTIONS.items():
        section = _at(values, path)
        unread += [".".join((*path, key)) for key in section if key not in known]
    run_config = _at(values, ("runLauncher", "config", "k8sRunLauncher", "runK8sConfig"))
    unread += [f"runK8sConfig.{key}" for key in run_config if key not in RUN_K8S_CONFIG]
    return unread


def render_instance(values: dict, release: str, namespace: str) -> dict[str, Any]:
    """The `dagster.yaml` of the chart's instance configmap for a K8sRunLauncher, queued
    runs and S3 compute logs (the only types these values use)."""
    if unread := unread_keys(values):
        raise UnknownValue(f"the chart does not read {unread}")
    daemon = values["dagsterDaemon"]
    instance: dict[str, Any] = {
        # NOTE: the chart names the pre-1.0 module paths (`dagster.core`); Dagster still
        # resolves them.
        "scheduler": {"module": "dagster.core.scheduler", "class": "DagsterDaemonScheduler"},
        "schedule_storage": _postgres("schedule_storage", "PostgresScheduleStorage", values),
        "run_launcher": _k8s_launcher(values, release, namespace),
        "run_storage": _postgres("run_storage", "PostgresRunStorage", values),
        "event_log_storage": _postgres("event_log", "PostgresEventLogStorage", values),
        "run_coordinator": _queued(daemon["runCoordinator"]["config"]["queuedRunCoordinator"]),
        "compute_logs": _s3_logs(values["computeLogManager"]["config"]["s3ComputeLogManager"]),
        "run_monitoring": _monitoring(daemon["runMonitoring"]),
        "run_retries": _retries(daemon["runRetries"]),
        "sensors": _threads(daemon["sensors"]),
        "schedules": _threads(daemon["schedules"]),
        "telemetry": {"enabled": values["telemetry"]["enabled"]},
    }
    retention = _merged(RETENTION_DEFAULTS, values.get("retention", {}))
    if retention.get("enabled"):
        instance["retention"] = {
            field: {"purge_after_days": retention[key]["purgeAfterDays"]}
            for key, field in RETENTION_KEYS.items()
            if retention.get(key)
        }
    return instance


def _merged(defaults: Any, values: Any) -> Any:
    """Values over defaults as helm merges them: maps key by key, anything else replaced."""
    if not (isinstance(defaults, dict) and isinstance(values, dict)):
        return values
    return {
        key: _merged(defaults.get(key), values[key]) if key in values else defaults[key]
        for key in defaults | values
    }


def _at(values: dict, path: tuple[str, ...]) -> dict:
    for key in path:
        values = values.get(key) or {}
    return values


def _postgres(module: str, cls: str, values: dict) -> dict:
    pg = values["postgresql"]
    db = {
        "username": pg["postgresqlUsername"],
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "hostname": pg["postgresqlHost"],
        "db_name": pg["postgresqlDatabase"],
        "port": pg["service"]["port"],
        "params": pg.get("postgresqlParams") or {},
    }
    if pg.get("postgresqlScheme"):
        db["scheme"] = pg["postgresqlScheme"]
    return {"module": f"dagster_postgres.{module}", "class": cls, "config": {"postgres_db": db}}


def _k8s_launcher(values: dict, release: str, namespace: str) -> dict:
    k8s = values["runLauncher"]["config"]["k8sRunLauncher"]
    glob = values["global"]
    config: dict[str, Any] = {"load_incluster_config": k8s["loadInclusterConfig"]}
    if k8s.get("kubeconfigFile"):
        config["kubeconfig_file"] = k8s["kubeconfigFile"]
    config |= {
        "job_namespace": k8s.get("jobNamespace") or namespace,
        "image_pull_policy": k8s["imagePullPolicy"],
        "service_account_name": glob.get("serviceAccountName") or f"{release}-dagster",
        "dagster_home": glob["dagsterHome"],
        "instance_config_map": f"{release}-dagster-instance",
        "postgres_password_secret": glob["postgresqlSecretName"],
    }
    for key, field in (("envConfigMaps", "env_config_maps"), ("envSecrets", "env_secrets")):
        if k8s.get(key):
            config[field] = [item["name"] for item in k8s[key] if "name" in item]
    plain = {
        "envVars": "env_vars",
        "volumeMounts": "volume_mounts",
        "volumes": "volumes",
        "labels": "labels",
        "resources": "resources",
        "schedulerName": "scheduler_name",
        "securityContext": "security_context",
    }
    config |= {field: k8s[key] for key, field in plain.items() if k8s.get(key)}
    if k8s.get("failPodOnRunFailure"):
        config["fail_pod_on_run_failure"] = True
    if k8s.get("runK8sConfig"):
        run = k8s["runK8sConfig"]
        config["run_k8s_config"] = {RUN_K8S_CONFIG[k]: v for k, v in run.items() if v}
    return {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": config}


def _queued(queued: dict) -> dict:
    config = {}
    if queued.get("maxConcurrentRuns"):
        config["max_concurrent_runs"] = queued["maxConcurrentRuns"]
    if queued.get("tagConcurrencyLimits"):
        config["tag_concurrency_limits"] = queued["tagConcurrencyLimits"]
    if queued.get("dequeueIntervalSeconds"):
        config["dequeue_interval_seconds"] = queued["dequeueIntervalSeconds"]
    if queued.get("dequeueUseThreads"):
        config["dequeue_use_threads"] = queued["dequeueUseThreads"]
    if queued.get("dequeueNumWorkers"):
        config["dequeue_num_workers"] = queued["dequeueNumWorkers"]
    coordinator = {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator"}
    return coordinator | ({"config": config} if config else {})


def _s3_logs(s3: dict) -> dict:
    config: dict[str, Any] = {"bucket": s3["bucket"]}
    optional = {
        "localDir": "local_dir",
        "prefix": "prefix",
        "useSsl": "use_ssl",
        "verifyCertPath": "verify_cert_path",
        "endpointUrl": "endpoint_url",
        "skipEmptyFiles": "skip_empty_files",
        "uploadInterval": "upload_interval",
        "uploadExtraArgs": "upload_extra_args",
        "showUrlOnly": "show_url_only",
        "region": "region",
    }
    config |= {field: s3[key] for key, field in optional.items() if s3.get(key)}
    config["verify"] = s3.get("verify") is not False
    return {
        "module": "dagster_aws.s3.compute_log_manager",
        "class": "S3ComputeLogManager",
        "config": config,
    }


def _monitoring(monitoring: dict) -> dict:
    rendered = {
        "enabled": monitoring["enabled"],
        "start_timeout_seconds": monitoring["startTimeoutSeconds"],
        "poll_interval_seconds": monitoring["pollIntervalSeconds"],
        "free_slots_after_run_end_seconds": monitoring["freeSlotsAfterRunEndSeconds"],
    }
    for key, field in (
        ("cancelTimeoutSeconds", "cancel_timeout_seconds"),
        ("maxRuntimeSeconds", "max_runtime_seconds"),
        ("maxResumeRunAttempts", "max_resume_run_attempts"),
    ):
        if monitoring.get(key) is not None:
            rendered[field] = monitoring[key]
    return rendered


def _retries(retries: dict) -> dict:
    rendered = {"enabled": retries["enabled"]}
    if retries.get("maxRetries"):
        rendered["max_retries"] = retries["maxRetries"]
    if "retryOnAssetOrOpFailure" in retries:
        rendered["retry_on_asset_or_op_failure"] = retries["retryOnAssetOrOpFailure"]
    return rendered


def _threads(threads: dict) -> dict:
    rendered = {"use_threads": threads["useThreads"]}
    for key, field in (("numWorkers", "num_workers"), ("numSubmitWorkers", "num_submit_workers")):
        if threads.get(key):
            rendered[field] = threads[key]
    return rendered
