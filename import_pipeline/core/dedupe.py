"""Keep one row per key inside a batch: the newest `updated_at`, ties to the later row."""

from dataclasses import dataclass

import polars as pl

from import_pipeline.core.columns import ROW
from import_pipeline.core.entities import EntitySpec

KEPT = "_kept"
"""In a conflicts frame: whether this version of the key is the one staged."""

ENTITY = "_entity"
KEY = "_key"
OUTCOME = "_outcome"
"""In a listed conflicts frame: the entity, the key in conflict, and `kept` or `dropped`."""


@dataclass(frozen=True)
class Deduped:
    """`rows` holds one row per key, sorted by key (the order the upsert wants);
    `conflicts` every version of each key whose versions disagree, marked `_kept`."""

    rows: pl.DataFrame
    duplicates: int
    conflicting_keys: int
    conflicts: pl.DataFrame


def dedupe(valid: pl.DataFrame, spec: EntitySpec, partial: tuple[str, ...] = ()) -> Deduped:
    """Drop all but the newest version of each key; count what was dropped, and list the
    keys whose versions actually disagreed (not just repeated lines) with every version,
    so a person can see which values lost. A `partial` field of the kept row takes the
    newest non-blank value among the key's versions (newer-wins field by field)."""
    ordered = valid.sort([spec.key, spec.version.field, ROW], nulls_last=False)
    # Sorted by key, each key's rows are one run: its last row is the newest version.
    run = ordered[spec.key].rle_id()
    last = run.ne_missing(run.shift(-1))
    newest = ordered
    if partial and ordered.height > run.n_unique():
        newest = ordered.with_columns(pl.col(c).forward_fill().over(run) for c in partial)
    rows = newest.filter(last)
    duplicates = valid.height - rows.height
    conflicts = ordered.clear().with_columns(pl.lit(True).alias(KEPT))
    if duplicates:
        repeated = ordered.with_columns(last.alias(KEPT)).filter(
            run.eq_missing(run.shift(1)) | ~last
        )
        keys = _keys_with_distinct_versions(repeated.drop(ROW, KEPT), spec.key)
        conflicts = repeated.filter(pl.col(spec.key).is_in(keys.implode(), nulls_equal=True))
    return Deduped(
        rows=rows,
        duplicates=duplicates,
        conflicting_keys=conflicts[spec.key].n_unique(),
        conflicts=conflicts,
    )


def _keys_with_distinct_versions(rows: pl.DataFrame, key: str) -> pl.Series:
    """The keys whose rows differ (only the rows of repeated keys are passed, so this is
    cheap when duplicates are few)."""
    return rows.unique().group_by(key).len().filter(pl.col("len") > 1)[key]


def listed_conflicts(conflicts: pl.DataFrame, spec: EntitySpec) -> pl.DataFrame:
    """The versions of keys in conflict as text, the way the duplicates CSV shows them."""
    outcome = pl.when(pl.col(KEPT)).then(pl.lit("kept")).otherwise(pl.lit("dropped"))
    return conflicts.select(
        pl.lit(spec.name).alias(ENTITY),
        pl.col(spec.key).alias(KEY),
        outcome.alias(OUTCOME),
        pl.col(ROW),
        *[pl.col(c).cast(pl.String) for c in conflicts.columns if c not in (ROW, KEPT)],
    )
