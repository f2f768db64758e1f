"""The `purge` job: delete one tenant's rows (or one batch's), on a person's explicit
confirmation, recorded in `ingest.purges`."""

import dagster as dg

from import_pipeline.core.purge import plan_purge
from import_pipeline.defs.resources import PostgresResource
from import_pipeline.load.purge import run_purge


class PurgeConfig(dg.Config):
    """Which rows to delete; `confirm` must repeat the tenant's name."""

    tenant: str
    confirm: str = ""
    entities: list[str] = []
    batch: str = ""
    chunk_rows: int = 5000
    lock_wait_ms: int = 200
    """How long a TRUNCATE waits for its table lock (readers queue behind it meanwhile)
    before the purge deletes in chunks instead."""


@dg.op
def purge_tenant(
    context: dg.OpExecutionContext, config: PurgeConfig, postgres: PostgresResource
) -> dg.Output[None]:
    """Deletes the tenant's held rows and rows, children first, in key-ordered chunks of
    their own short transactions; a table holding only that tenant is truncated."""
    plan = plan_purge(config.tenant, config.confirm, config.entities, config.batch)
    with postgres.connect("import_pipeline purge") as conn:
        purge_id, counts = run_purge(
            conn, plan, context.run_id, config.chunk_rows, config.lock_wait_ms
        )
    truncated = ", ".join(counts.truncated) or "none"
    context.log.info(
        f"purged {plan.tenant}: {sum(counts.deleted.values())} rows deleted in chunks, "
        f"truncated: {truncated}, {counts.held_rows} held rows"
    )
    return dg.Output(
        None,
        metadata={
            "purge_id": purge_id,
            "tenant": plan.tenant,
            "batch": plan.batch or "all batches",
            **{f"{name}/deleted": n for name, n in counts.deleted.items()},
            **{f"{name}/kept_referenced": n for name, n in counts.kept.items()},
            "held_rows": counts.held_rows,
            "truncated": truncated,
            "truncate_skipped": counts.truncate_skipped or "-",
        },
    )


@dg.job(
    description="Delete one tenant's rows (or one batch's) from every entity, children "
    "first; run config `confirm` must equal the tenant's name."
)
def purge() -> None:
    purge_tenant()
