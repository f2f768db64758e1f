"""The embedded server runs with the bulk-load settings; `configure` writes what differs."""

import os
import time

import pytest

from import_pipeline.db.connect import bulk_load_settings, configure, machine_memory
from import_pipeline_tests.support import query

embedded_only = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")), reason="the embedded server's settings only"
)


def setting(url: str, name: str) -> str:
    return query(url, "SELECT current_setting(%s)", (name,))[0][0]


@embedded_only
def test_the_embedded_server_runs_with_the_bulk_load_settings(server_url: str) -> None:
    wanted = bulk_load_settings(machine_memory())
    assert {name: setting(server_url, name) for name in wanted} == wanted


@pytest.mark.parametrize(
    ("memory_gib", "buffers"), [(1, "128MB"), (4, "512MB"), (8, "1GB"), (15.5, "1GB"), (64, "2GB")]
)
def test_shared_buffers_are_an_eighth_of_memory_as_a_power_of_two_up_to_2gb(
    memory_gib: float, buffers: str
) -> None:
    assert bulk_load_settings(int(memory_gib * (1 << 30)))["shared_buffers"] == buffers


@embedded_only
def test_configure_writes_and_reloads_a_setting_that_differs(server_url: str) -> None:
    wanted = bulk_load_settings(machine_memory())
    assert configure(server_url, wanted) is False
    try:
        assert configure(server_url, {"checkpoint_timeout": "16min"}) is False
        deadline = time.monotonic() + 5
        while setting(server_url, "checkpoint_timeout") != "16min":
            assert time.monotonic() < deadline, "the reload did not apply the setting"
            time.sleep(0.05)
    finally:
        configure(server_url, wanted)
