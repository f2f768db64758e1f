"""The purge job deletes a tenant's rows only on the confirmation of its name, and its
step reports what went and how."""

from import_pipeline.db.connect import connected
from import_pipeline.db.migrate import migrate
from import_pipeline_tests.db.support import load, table


def config(**purge) -> dict:
    return {"ops": {"purge_tenant": {"config": purge}}}


def test_the_purge_job_refuses_without_the_tenants_name_and_then_purges_with_it(
    defs, instance, database_url
):
    with connected(database_url) as conn:
        migrate(conn)
        load(conn, "customers", [{"customer_id": "C1"}], "b1", "acme")
        load(conn, "customers", [{"customer_id": "C1"}], "b1", "other")
    job = defs.resolve_job_def("purge")

    refused = job.execute_in_process(
        run_config=config(tenant="acme", confirm="yes"), instance=instance, raise_on_error=False
    )
    assert not refused.success
    with connected(database_url) as conn:
        assert table(conn, "SELECT count(*) FROM commerce.customers") == [(2,)]

    done = job.execute_in_process(
        run_config=config(tenant="acme", confirm="acme"), instance=instance
    )
    (materialized,) = [e for e in done.all_node_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = materialized.event_specific_data.metadata
    assert metadata["customers/deleted"].value == 1 and metadata["truncated"].value == "none"
    with connected(database_url) as conn:
        assert table(conn, "SELECT tenant FROM commerce.customers") == [("other",)]
        assert table(conn, "SELECT tenant, status FROM ingest.purges") == [("acme", "succeeded")]
