"""A source's mapping: one parsed file -> the text columns of each entity it feeds.

Set-based from start to end (polars expressions, no loop over rows): rename layout
variants, forward-fill columns a source fills only on a group's first row, add helper
columns, then per entity keep its rows, compute its fields and carry the columns it does
not map along as extras (which validation turns into the JSONB `attributes`).
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import polars as pl

from import_pipeline.core.columns import ROW
from import_pipeline.core.derive import Derived
from import_pipeline.core.entities import ENTITIES
from import_pipeline.core.errors import MissingColumns
from import_pipeline.core.lookups import Lookup, Misses
from import_pipeline.core.report import ONE_ROW_PER, SKIP_ROWS_WITHOUT
from import_pipeline.core.rules import sanitised


class Slice(NamedTuple):
    """One entity's rows of a file, and how many of the file's rows it skipped, by reason."""

    rows: pl.DataFrame
    skipped: dict[str, int]


class MappedFile(NamedTuple):
    """A file's slices by entity, and the misses of each lookup its profile made."""

    slices: dict[str, Slice]
    lookup_misses: dict[str, Misses] = {}


@dataclass(frozen=True, eq=False)
class EntityMapping:
    """How one entity's rows come out of the file.

    `skip_rows_without`: rows blank in these columns are not rows of this entity (Shopify
    image-only rows are no products; Online Retail rows without a customer id make no
    customer). `one_row_per`: keep each group's first row (an order from its first line).
    `attributes`: the unmapped columns to keep; None keeps every unmapped source column.
    """

    entity: str
    fields: dict[str, Derived]
    attributes: tuple[str, ...] | None = None
    one_row_per: tuple[str, ...] = ()
    skip_rows_without: tuple[str, ...] = ()

    def referenced(self) -> set[str]:
        used = set().union(*(d.columns for d in self.fields.values()))
        return used | set(self.one_row_per) | set(self.skip_rows_without)


@dataclass(frozen=True, eq=False)
class SourceMapping:
    """Everything a profile says about turning its files into entity slices."""

    entities: dict[str, EntityMapping]
    rename: dict[str, str] = field(default_factory=dict)
    forward_fill_by: tuple[str, ...] = ()
    forward_fill: tuple[str, ...] = ()
    helpers: dict[str, Derived] = field(default_factory=dict)
    lookups: tuple[Lookup, ...] = ()

    def slices(
        self, frame: pl.DataFrame, file_name: str, tables: dict[str, Path] | None = None
    ) -> MappedFile:
        """Entity name -> that entity's rows (`_row`, its fields as text, extra columns)
        and the rows it skipped; lookups run after the helpers (`tables`: the batch's
        files that are reference tables, by name)."""
        frame = frame.rename({k: v for k, v in self.rename.items() if k in frame.columns})
        source = [c for c in frame.columns if c != ROW]
        self._require(set(self.forward_fill) | set(self.forward_fill_by), frame, file_name)
        if self.forward_fill:
            groups = [sanitised(c) for c in self.forward_fill_by]
            frame = frame.with_columns(
                sanitised(c).forward_fill().over(groups).alias(c) for c in self.forward_fill
            )
        for name, helper in self.helpers.items():
            self._require(helper.columns, frame, file_name)
            frame = frame.with_columns(helper.expr.alias(name))
        misses = {}
        for lookup in self.lookups:
            self._require(lookup.columns, frame, file_name)
            frame, misses[lookup.name] = lookup.apply(frame, tables or {}, file_name)
        slices = {
            name: self._slice(frame, mapping, source, file_name)
            for name, mapping in self.entities.items()
        }
        return MappedFile(slices, misses)

    def _slice(
        self, frame: pl.DataFrame, mapping: EntityMapping, source: list[str], file_name: str
    ) -> Slice:
        self._require(mapping.referenced() | set(mapping.attributes or ()), frame, file_name)
        rows = frame
        skipped: dict[str, int] = {}
        if mapping.skip_rows_without:
            rows = rows.filter(
                pl.all_horizontal(sanitised(c).is_not_null() for c in mapping.skip_rows_without)
            )
            skipped[SKIP_ROWS_WITHOUT] = frame.height - rows.height
        if mapping.one_row_per:
            keys = [sanitised(c).alias(f"__key{i}") for i, c in enumerate(mapping.one_row_per)]
            before = rows.height
            rows = rows.with_columns(keys).unique(
                subset=[k.meta.output_name() for k in keys], keep="first", maintain_order=True
            )
            skipped[ONE_ROW_PER] = before - rows.height
        fields = ENTITIES[mapping.entity].field_names
        if mapping.attributes is None:
            used = mapping.referenced()
            extras = [c for c in source if c not in used and c not in fields]
        else:
            extras = [c for c in mapping.attributes if c not in fields]
        columns = rows.select(
            ROW,
            *[derived.expr.alias(name) for name, derived in mapping.fields.items()],
            *extras,
        )
        return Slice(columns, {reason: n for reason, n in skipped.items() if n})

    @staticmethod
    def _require(columns: set[str] | frozenset[str], frame: pl.DataFrame, file_name: str) -> None:
        missing = sorted(c for c in columns if c not in frame.columns)
        if missing:
            found = ", ".join(c for c in frame.columns if c != ROW)
            raise MissingColumns(
                file_name,
                f"its source profile reads the column(s) {', '.join(missing)}; the file has "
                f"{found}",
                "Export the file with those columns, or fix the column names in the profile.",
            )
