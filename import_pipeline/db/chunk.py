"""A key-ordered chunk of one tenant's staged rows and its COPY encodings and fingerprints.

Chunks are what the loader hands the database: contiguous key ranges, each fingerprinted
so that a re-load can tell the rows it stores already without sending them in full.
"""

from dataclasses import dataclass
from functools import cached_property

import polars as pl

from import_pipeline.core.columns import ATTRIBUTES, FINGERPRINT, TENANT
from import_pipeline.core.entities import EntitySpec
from import_pipeline.db.copy import csv_rows
from import_pipeline.db.sql import WEIGHT_MASK, probe_columns, stage_columns, target_columns


@dataclass(frozen=True)
class Chunk:
    """A key-ordered chunk of one tenant's rows and its key range (read ahead in the
    prefetch thread). Each of its COPY encodings (target, stage, probe) is made when
    first needed: most chunks take one path, and encoding every one up front took CPU
    that the database's backends want."""

    spec: EntitySpec
    tenant: str
    rows: pl.DataFrame
    lo: str
    hi: str
    partial: frozenset[str] = frozenset()

    @property
    def height(self) -> int:
        return self.rows.height

    @cached_property
    def for_target(self) -> bytes:
        """For a COPY into the target: the tenant as a literal column, and the rows in
        their first parent's key order (an order's customer, a line's order), not their
        own. The foreign-key lookups and the inserts into the parent column's index then
        walk those indexes in order instead of jumping about them (polars' byte order is the
        index's under the C collation, and nearly so for ids under others). Re-loads pay a
        little for it, far less than a fresh load saves (`bench.growth`, bench/README.md):
        within the chunk's key range the primary key splits its pages in halves and
        key-range reads visit the rows out of order."""
        rows = self.rows.with_columns(pl.lit(self.tenant).alias(TENANT))
        if self.spec.parents:
            parent = self.spec.parents[0].field
            if not rows.get_column(parent).is_sorted(nulls_last=True):
                rows = rows.sort(parent, nulls_last=True, maintain_order=True)
        return csv_rows(rows, target_columns(self.spec))

    @cached_property
    def for_stage(self) -> bytes:
        return csv_rows(self.rows, stage_columns(self.spec))

    @cached_property
    def for_probe(self) -> bytes:
        return csv_rows(self.rows, probe_columns(self.spec))

    @cached_property
    def summary(self) -> tuple[int, int, int, int]:
        """What `range_summary` returns for a key range that holds exactly these rows."""
        fp = pl.col(FINGERPRINT)
        micros = self.spec.version.as_number().cast(pl.Int128)
        weighted = ((fp & WEIGHT_MASK) + 1).cast(pl.Int128) * micros
        sums = (fp.count().alias("n"), fp.cast(pl.Int128).sum().alias("fp"), weighted.sum())
        return self.rows.select(pl.len(), *sums).row(0)

    def only(self, keys: list[str]) -> "Chunk":
        """The chunk's rows with these keys (still in key order)."""
        return self.of(self.rows.filter(pl.col(self.spec.key).is_in(keys)))

    def of(self, rows: pl.DataFrame) -> "Chunk":
        """A chunk of the same entity and tenant holding `rows` (some of this one's)."""
        return prepare(self.spec, rows, self.tenant, self.partial)


def prepare(
    spec: EntitySpec, rows: pl.DataFrame, tenant: str, partial: frozenset[str] = frozenset()
) -> Chunk:
    """`rows` (sorted by key) as a chunk with their fingerprints and its key range;
    `partial`: the fields whose blank (null) values keep the stored ones."""
    if FINGERPRINT not in rows.columns:
        rows = rows.with_columns(fingerprint(spec))
    keys = rows.get_column(spec.key)
    return Chunk(spec, tenant, rows, keys.min(), keys.max(), partial)


def fingerprint(spec: EntitySpec) -> pl.Expr:
    """A 64-bit hash of a row's key and values, not its version: equal values, equal
    fingerprint, so a re-load can skip rows whose stored fingerprint and version match
    without sending them in full. Two different rows share one with odds of 2^-64. The
    key is in it so that a key range's sum of fingerprints stands for its rows (see
    `range_unchanged`). polars may hash differently after an upgrade: then rows merely
    take the full comparison once, which stores their new fingerprint."""
    content = [n for n in written_columns(spec) if n not in (spec.version.field, FINGERPRINT)]
    return pl.struct(content).hash(seed=0).reinterpret(signed=True).alias(FINGERPRINT)


def written_columns(spec: EntitySpec) -> list[str]:
    """The columns of a stored row that a load writes (besides tenant and bookkeeping)."""
    return [*spec.field_names, ATTRIBUTES, FINGERPRINT]
