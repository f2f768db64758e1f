"""Retention deletes the partitions of batches that ended long ago through the sensor's
result; the ledger keeps them, and a pruned batch is re-run by its URI."""

from pathlib import Path

import dagster as dg

from import_pipeline.defs.partitions import batches
from import_pipeline.defs.resources import ImportSettings, PostgresResource
from import_pipeline.defs.retention import partition_retention_sensor
from import_pipeline.rerun import rerun
from import_pipeline_tests.support import query, run, tick, write_csv


def test_old_partitions_are_deleted_the_ledger_keeps_them_and_a_rerun_by_uri_loads_again(
    defs, instance, landing: Path, pipeline_env: str
):
    write_csv(landing / "customers_old.csv", [{"customer_id": "C1"}])
    write_csv(landing / "customers_new.csv", [{"customer_id": "C2"}])
    ticked = tick(instance, landing, pipeline_env)
    for request in ticked.run_requests:
        assert run(defs, instance, request).success
    old, new = sorted(ticked.keys)
    query(
        pipeline_env,
        "UPDATE ingest.files SET finished_at = now() - interval '100 days'"
        " WHERE partition_key = %s RETURNING 1",
        (old,),
    )
    resources = {
        "postgres": PostgresResource(url=pipeline_env),
        "settings": ImportSettings(partition_retention_days=90),
    }

    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        result = partition_retention_sensor(context)

    assert isinstance(result, dg.SensorResult)
    (deletion,) = result.dynamic_partitions_requests
    assert isinstance(deletion, dg.DeleteDynamicPartitionsRequest)
    assert list(deletion.partition_keys) == [old]
    for key in deletion.partition_keys:  # as the daemon applies it
        instance.delete_dynamic_partition(batches.name, key)
    assert instance.get_dynamic_partitions(batches.name) == [new]
    assert query(
        pipeline_env,
        "SELECT partition_key, status, partition_pruned_at IS NOT NULL FROM ingest.files"
        " ORDER BY 1",
    ) == [(old, "succeeded", True), (new, "succeeded", False)]

    ((uri,),) = query(pipeline_env, "SELECT uri FROM ingest.files WHERE partition_key = %s", (old,))
    again = rerun(uri, pipeline_env, instance, defs)

    assert again.success and again.dagster_run.tags["import/rerun"] == "cli"
    assert sorted(instance.get_dynamic_partitions(batches.name)) == sorted([old, new])
    assert query(
        pipeline_env,
        "SELECT status, partition_pruned_at FROM ingest.files WHERE partition_key = %s",
        (old,),
    ) == [("succeeded", None)]
