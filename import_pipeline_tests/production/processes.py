"""Helpers for tests that run Dagster's processes: the venv's commands, ports, polling."""

import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
"""Where the venv's commands are (dagster, dagster-daemon, dagster-webserver)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(what: str, found: Callable[[], Any], timeout: float, every: float = 0.5) -> Any:
    """Poll until `found()` returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"no {what} within {timeout:.0f} s")
