"""Keep one row per key inside a batch: the newest `updated_at`, ties to the later row."""

from dataclasses import dataclass

import polars as pl

from import_pipeline.core.entities import VERSION_FIELD, EntitySpec
from import_pipeline.core.parse import ROW


@dataclass(frozen=True)
class Deduped:
    """`rows` holds one row per key, sorted by key (the order the upsert wants)."""

    rows: pl.DataFrame
    duplicates: int
    conflicting_keys: int


def dedupe(valid: pl.DataFrame, spec: EntitySpec) -> Deduped:
    """Drop all but the newest version of each key; count what was dropped and how many
    keys had versions that actually disagreed (not just repeated lines)."""
    ordered = valid.sort([spec.key, VERSION_FIELD, ROW], nulls_last=False)
    # Sorted by key, each key's rows are one run: its last row is the newest version.
    run = ordered[spec.key].rle_id()
    last = run.ne_missing(run.shift(-1))
    rows = ordered.filter(last)
    duplicates = valid.height - rows.height
    conflicting = 0
    if duplicates:
        repeated = ordered.filter(run.eq_missing(run.shift(1)) | ~last)
        conflicting = _keys_with_distinct_versions(repeated.drop(ROW), spec.key)
    return Deduped(rows=rows, duplicates=duplicates, conflicting_keys=conflicting)


def _keys_with_distinct_versions(rows: pl.DataFrame, key: str) -> int:
    """How many keys have rows that differ (only the rows of repeated keys are passed, so
    this is cheap when duplicates are few)."""
    return rows.unique().group_by(key).len().filter(pl.col("len") > 1).height
