"""The embedded server runs with the bulk-load settings; `configure` writes what differs."""

import os
import time

import pytest

from import_pipeline.db.connect import BULK_LOAD_SETTINGS, configure
from import_pipeline_tests.support import query

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")), reason="changes server settings: embedded server only"
)


def setting(url: str, name: str) -> str:
    return query(url, "SELECT current_setting(%s)", (name,))[0][0]


def test_the_embedded_server_runs_with_the_bulk_load_settings(server_url: str) -> None:
    assert {name: setting(server_url, name) for name in BULK_LOAD_SETTINGS} == BULK_LOAD_SETTINGS


def test_configure_writes_and_reloads_a_setting_that_differs(server_url: str) -> None:
    assert configure(server_url, BULK_LOAD_SETTINGS) is False
    try:
        assert configure(server_url, {"checkpoint_timeout": "16min"}) is False
        deadline = time.monotonic() + 5
        while setting(server_url, "checkpoint_timeout") != "16min":
            assert time.monotonic() < deadline, "the reload did not apply the setting"
            time.sleep(0.05)
    finally:
        configure(server_url, BULK_LOAD_SETTINGS)
