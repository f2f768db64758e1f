"""The S3 tests' clients of the session's moto server, and the code location's settings
for a test's bucket."""

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


@pytest.fixture
def s3_pipeline_env(
    monkeypatch: pytest.MonkeyPatch, s3_env: str, s3_bucket: str, database_url: str
) -> str:
    """The code location's settings for a test's bucket: landing and staging on S3, the
    test's database; a test module's own `env` adds what it needs on top."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("IMPORT_LANDING_URL", f"s3://{s3_bucket}/landing")
    monkeypatch.setenv("IMPORT_STAGING_URL", f"s3://{s3_bucket}/staging")
    return database_url
