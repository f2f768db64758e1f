"""A deployment without S3 never imports dagster-aws or boto3 (about a second per process)."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.postgres

LOCAL_RUN = textwrap.dedent(
    """
    import sys

    import dagster as dg

    from import_pipeline.definitions import defs
    from import_pipeline.defs.partitions import batches
    from import_pipeline.defs.resources import LandingZone, PostgresResource
    from import_pipeline.defs.sensors import landing_sensor

    definitions = defs()
    instance = dg.DagsterInstance.ephemeral()
    landing = LandingZone(url=sys.argv[1], settle_seconds=0)
    resources = {"landing": landing, "postgres": PostgresResource(url=sys.argv[2])}
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        (request,) = landing_sensor(context).run_requests
    instance.add_dynamic_partitions(batches.name, [request.partition_key])
    result = definitions.resolve_job_def("import_batch").execute_in_process(
        partition_key=request.partition_key, instance=instance, tags=request.tags
    )
    assert result.success
    print(sorted(m for m in ("dagster_aws", "boto3", "botocore") if m in sys.modules))
    """
)


def test_a_local_landing_zone_loads_a_file_without_importing_dagster_aws_or_boto3(
    landing: Path, pipeline_env: str
):
    (landing / "customers_1.csv").write_text("customer_id,email\nC1,ada@example.com\n")
    done = subprocess.run(
        [sys.executable, "-c", LOCAL_RUN, str(landing), pipeline_env],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
