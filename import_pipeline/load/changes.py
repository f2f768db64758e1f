"""What each entity load exposes to consumers downstream: the keys it inserted or updated,
as a small staged Parquet file beside the batch's staged rows, and their count."""

from dataclasses import dataclass

import polars as pl
from psycopg2.extensions import connection

from import_pipeline.core.entities import EntitySpec
from import_pipeline.core.report import LoadCounts
from import_pipeline.db import changes, ledger
from import_pipeline.files import layout
from import_pipeline.files.store import Store

PROBE_KEYS = 50_000
"""Staged keys probed a statement."""


@dataclass(frozen=True)
class Changed:
    """The keys a load inserted or updated: how many, and the file that lists them."""

    count: int = 0
    file: str | None = None


def expose(
    conn: connection,
    store: Store,
    spec: EntitySpec,
    tenant: str,
    partition_key: str,
    counts: LoadCounts,
) -> Changed:
    """Write the keys of `spec` the batch inserted or updated (no file when its counts say
    nothing was written), replacing what an earlier run of the batch wrote."""
    store.clear(layout.changes_folder(partition_key, spec.name))
    if not (counts.inserted or counts.updated):
        return Changed()
    staged = store.scan_parquet(layout.staged_folder(partition_key, spec.name)).select(spec.key)
    parts = (batch.to_series().to_list() for batch in staged.collect_batches(chunk_size=PROBE_KEYS))
    keys = changes.written_by(conn, spec, tenant, partition_key, parts)
    frame = pl.DataFrame({spec.key: keys}, schema={spec.key: pl.String})
    path = store.write_parquet(frame, layout.changes_part(partition_key, spec.name), PROBE_KEYS)
    return Changed(len(keys), path)


def changed_keys(store: Store, partition_key: str, entity: str) -> list[str]:
    """The keys of `entity` a batch's load exposed (none if it wrote none)."""
    folder = layout.changes_folder(partition_key, entity)
    if not store.list(folder):
        return []
    return store.scan_parquet(folder).collect().to_series().to_list()


@dataclass(frozen=True)
class ChangedProducts:
    """The products a batch changed, as stored, with the tenant they belong to."""

    tenant: str
    rows: list[dict]


def changed_products(
    conn: connection, partition_key: str, keys: list[str]
) -> ChangedProducts | None:
    """The batch's tenant and the stored rows of the products its load changed (`keys`),
    read for a consumer downstream; None when the ledger does not hold the batch."""
    batch = ledger.get(conn, partition_key)
    if batch is None:
        return None
    rows = changes.products(conn, batch.tenant, keys) if keys else []
    return ChangedProducts(batch.tenant, rows)
