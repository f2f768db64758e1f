"""The daily retry of held rows: load those whose parent arrived by some path other than
a batch of this pipeline, and turn those past the max age into rejects."""

import dagster as dg

from import_pipeline.core.entities import ENTITIES
from import_pipeline.db import held
from import_pipeline.defs.resources import ImportSettings, PostgresResource
from import_pipeline.load.held import expire_and_release


@dg.op
def retry_held(
    context: dg.OpExecutionContext, postgres: PostgresResource, settings: ImportSettings
) -> dg.Output[None]:
    """Expires and releases held rows of every tenant, entity by entity in foreign-key order (a
    released order can release its line items in the same pass)."""
    totals: dict[str, dict[str, int]] = {}
    with postgres.connect() as conn:
        with conn, conn.cursor() as cur:
            tenants = held.tenants_holding(cur)
        for tenant in tenants:
            for spec in ENTITIES.values():
                counts = expire_and_release(conn, spec, tenant, settings.held_max_age_hours * 3600)
                if counts.resolved or counts.expired:
                    totals[f"{tenant}/{spec.name}"] = {
                        "resolved": counts.resolved,
                        "expired": counts.expired,
                    }
                    context.log.info(
                        f"{tenant}/{spec.name}: {counts.resolved} resolved, "
                        f"{counts.expired} expired"
                    )
    return dg.Output(
        None,
        metadata={
            "tenants": len(tenants),
            "resolved": sum(t["resolved"] for t in totals.values()),
            "expired": sum(t["expired"] for t in totals.values()),
        },
    )


@dg.job(description="Load held rows whose parents exist now; expire those past the max age.")
def retry_held_rows() -> None:
    retry_held()


retry_held_rows_daily = dg.ScheduleDefinition(
    job=retry_held_rows,
    cron_schedule="30 3 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily retry of held rows (03:30 UTC).",
)
