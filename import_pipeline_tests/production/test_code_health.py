"""The code location's health check (docker/code_health.py) against real code servers."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from import_pipeline_tests.production.processes import BIN, free_port, wait_for

pytestmark = pytest.mark.production

PROJECT = Path(__file__).resolve().parents[2]


def code_health(port: int) -> int:
    """The compose health check's exit code."""
    command = [sys.executable, str(PROJECT / "docker" / "code_health.py"), str(port)]
    return subprocess.run(command, capture_output=True, timeout=60).returncode


def grpc_health_check(port: int) -> int:
    """Dagster's own check, which the compose file used before."""
    command = [str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(port)]
    return subprocess.run(command, capture_output=True, timeout=60).returncode


def test_a_code_server_whose_code_does_not_import_is_unhealthy(tmp_path: Path):
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(port)]
        + ["-m", "import_pipeline_no_such_module", "--location-name", "import_pipeline"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # the server is up and says so, while it serves the import error
        wait_for("a serving code server", lambda: grpc_health_check(port) == 0, timeout=60)
        assert code_health(port) == 1
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def test_nothing_listening_is_unhealthy():
    assert code_health(free_port()) == 1
