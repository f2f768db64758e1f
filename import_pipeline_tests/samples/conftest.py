"""Fixtures of the sample tests: a loader over the test's code location and instance."""

import pytest

from import_pipeline_tests.samples.support import Loader


@pytest.fixture
def loader(defs, instance, landing, pipeline_env) -> Loader:
    return Loader(defs, instance, landing, pipeline_env)
