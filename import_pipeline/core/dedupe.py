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
    rows = ordered.unique(subset=[spec.key], keep="last", maintain_order=True)
    duplicates = valid.height - rows.height
    conflicting = 0
    if duplicates:
        distinct = valid.drop(ROW).unique()
        conflicting = distinct.group_by(spec.key).len().filter(pl.col("len") > 1).height
    return Deduped(rows=rows, duplicates=duplicates, conflicting_keys=conflicting)
