"""The code location as deployed (resources from the environment) and a test instance."""

from collections.abc import Iterator

import dagster as dg
import pytest

from import_pipeline.definitions import defs as load_definitions


@pytest.fixture
def defs(pipeline_env: str) -> dg.Definitions:
    return load_definitions()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance
