"""The S3 tests' clients of the session's moto server."""

from typing import Any

import pytest

from import_pipeline_tests.support import CountingS3, s3_settings


@pytest.fixture
def aws(s3_endpoint: str) -> CountingS3:
    """The landing zone's connection, counting the keys each listing returns."""
    return CountingS3(**s3_settings(s3_endpoint))


@pytest.fixture
def client(aws: CountingS3) -> Any:
    """A real S3 client of moto (test_s3_batches uses the environment's own instead)."""
    return aws.get_client()
