"""What each entity load exposes to consumers downstream: the keys it inserted or updated,
as a small staged Parquet file beside the batch's staged rows, and their count."""

import dagster as dg
import polars as pl
from psycopg2.extensions import connection

from import_pipeline.core.entities import EntitySpec
from import_pipeline.core.report import LoadCounts
from import_pipeline.db import changes
from import_pipeline.defs.resources import StagingArea
from import_pipeline.files import layout

PROBE_KEYS = 50_000
"""Staged keys probed a statement."""


def expose(
    conn: connection,
    staging: StagingArea,
    spec: EntitySpec,
    tenant: str,
    partition_key: str,
    counts: LoadCounts,
) -> dict[str, dg.MetadataValue | int]:
    """Write the keys of `spec` the batch inserted or updated (none when its counts say
    nothing was written) and return their count and file as metadata."""
    store = staging.store()
    store.clear(layout.changes_folder(partition_key, spec.name))
    if not (counts.inserted or counts.updated):
        return {"changed_keys": 0}
    staged = store.scan_parquet(layout.staged_folder(partition_key, spec.name)).select(spec.key)
    total = staged.select(pl.len()).collect().item()
    parts = (
        staged.slice(offset, PROBE_KEYS).collect().to_series().to_list()
        for offset in range(0, total, PROBE_KEYS)
    )
    keys = changes.written_by(conn, spec, tenant, partition_key, parts)
    frame = pl.DataFrame({spec.key: keys}, schema={spec.key: pl.String})
    path = store.write_parquet(frame, layout.changes_part(partition_key, spec.name), PROBE_KEYS)
    return {"changed_keys": len(keys), "changed_keys_file": dg.MetadataValue.path(path)}


def changed_keys(staging: StagingArea, partition_key: str, entity: str) -> list[str]:
    """The keys of `entity` a batch's load exposed (none if it wrote none)."""
    store = staging.store()
    folder = layout.changes_folder(partition_key, entity)
    if not store.list(folder):
        return []
    return store.scan_parquet(folder).collect().to_series().to_list()
