"""Re-run a batch by its URI, also one whose partition retention deleted from the Dagster
instance: the ledger knows it, so its partition is added back and its run executed here, in
this process, recorded in the instance like any run (`import-pipeline rerun URI`)."""

import dagster as dg

from import_pipeline.db import ledger, retention
from import_pipeline.db.connect import connected
from import_pipeline.defs.partitions import batches
from import_pipeline.defs.sensors import run_request


class UnknownBatch(LookupError):
    """No batch of the ledger (ingest.files) has this URI."""


def rerun(
    uri: str, database_url: str, instance: dg.DagsterInstance, defs: dg.Definitions
) -> dg.ExecuteInProcessResult:
    """Run the import job for the latest batch registered for `uri`."""
    with connected(database_url) as conn:
        key = retention.latest_by_uri(conn, uri)
        batch = ledger.get(conn, key) if key else None
        if batch is None:
            raise UnknownBatch(
                f"no batch in the ledger (ingest.files) has the URI {uri}; a file never "
                "landed is loaded by dropping it into the landing zone"
            )
        instance.add_dynamic_partitions(batches.name, [batch.partition_key])
        retention.restored(conn, batch.partition_key)
    request = run_request(batch, f"rerun-{batch.partition_key}")
    return defs.resolve_job_def("import_batch").execute_in_process(
        partition_key=batch.partition_key,
        instance=instance,
        tags={**request.tags, "import/rerun": "cli"},
        raise_on_error=False,
    )
