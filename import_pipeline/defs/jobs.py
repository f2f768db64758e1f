"""The import job: one batch through staging and its entity loads, in one process."""

import dagster as dg

IMPORT_GROUP = "import"

# NOTE: the in-process executor: a subprocess per step costs ~100 MB and seconds, which
# dominates when partners drop many small files; runs, not steps, are the parallelism.
import_batch = dg.define_asset_job(
    "import_batch",
    selection=dg.AssetSelection.groups(IMPORT_GROUP),
    executor_def=dg.in_process_executor,
    description="Load one landed batch: stage it, then upsert customers, products, orders "
    "and line items in foreign-key order.",
)
