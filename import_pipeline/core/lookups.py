"""Lookups: a column mapped through a reference table by key, misses counted.

The table is a CSV shipped beside the profile (read once, when the profile loads) or a
file of the same batch (a marketplace dump's category translation), matched by a glob and
read when the batch is staged; such a file is a table, not rows of an entity. A lookup
adds a helper column the profile's fields can use, like `derive`.
"""

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import polars as pl

from import_pipeline.core.derive import Derived
from import_pipeline.core.errors import ImportFileError
from import_pipeline.core.rules import sanitised

EXAMPLES = 5
"""Missed keys kept per lookup, to show what the table lacks."""


class BadLookupTable(ImportFileError):
    """A lookup's reference table is missing, unreadable or lacks its key/value columns."""


class Misses(NamedTuple):
    """Rows whose (non-blank) key the table does not hold, and a few of those keys."""

    count: int
    examples: tuple[str, ...] = ()

    def plus(self, other: "Misses") -> "Misses":
        """Both files' misses: counts added, the first few distinct keys kept."""
        examples = tuple(dict.fromkeys(self.examples + other.examples))[:EXAMPLES]
        return Misses(self.count + other.count, examples)


def added_misses(each: list[dict[str, Misses]]) -> dict[str, Misses]:
    """Misses per lookup, added up over a batch's files."""
    totals: dict[str, Misses] = {}
    for misses in each:
        for name, counted in misses.items():
            totals[name] = totals.get(name, Misses(0)).plus(counted)
    return totals


def read_table(path: Path, name: str, key: str, value: str) -> dict[str, str]:
    """Key -> value from a CSV (UTF-8, comma, a header row), keys and values trimmed; a
    key listed twice keeps its first value."""
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise BadLookupTable(name, f"it cannot be read as a CSV ({exc})", _FIX) from exc
    missing = [c for c in (key, value) if c not in frame.columns]
    if missing:
        raise BadLookupTable(
            name,
            f"it has no column(s) {', '.join(missing)} (it has {', '.join(frame.columns)})",
            _FIX,
        )
    rows = frame.select(sanitised(key).alias("k"), sanitised(value).alias("v"))
    rows = rows.filter(pl.col("k").is_not_null()).unique("k", keep="first", maintain_order=True)
    return dict(zip(rows["k"].to_list(), rows["v"].to_list(), strict=True))


def is_table(file_name: str, glob: str) -> bool:
    """Whether a batch's file (its name relative to the folder) is the table `glob` names."""
    name, glob = file_name.lower(), glob.lower()
    return fnmatch.fnmatchcase(name, glob) or fnmatch.fnmatchcase(name.rsplit("/", 1)[-1], glob)


_FIX = "Give the lookup a CSV with a header row holding its key and value columns."


@dataclass(frozen=True, eq=False)
class Lookup:
    """`column`'s value looked up as `key` in a table, giving `value`; a miss gives
    `default` (absent: null). `table` is the loaded table, or None when `batch_file` (a
    glob) names a file of the batch."""

    name: str
    column: str
    key: str
    value: str
    default: Derived | None
    table: dict[str, str] | None = None
    batch_file: str | None = None

    @property
    def columns(self) -> frozenset[str]:
        return frozenset({self.column}) | (self.default.columns if self.default else frozenset())

    def apply(
        self, frame: pl.DataFrame, tables: dict[str, Path], file_name: str
    ) -> tuple[pl.DataFrame, Misses]:
        """The frame with the lookup's column added, and its misses."""
        table = self.table if self.table is not None else self._batch_table(tables, file_name)
        source = sanitised(self.column)
        default = self.default.expr if self.default else pl.lit(None, pl.String)
        looked_up = source.replace_strict(
            list(table), list(table.values()), default=default, return_dtype=pl.String
        )
        missed = frame.select(source.filter(source.is_not_null() & ~source.is_in(list(table))))
        keys = missed.to_series()
        misses = Misses(keys.len(), tuple(keys.unique(maintain_order=True).head(EXAMPLES)))
        return frame.with_columns(looked_up.alias(self.name)), misses

    def _batch_table(self, tables: dict[str, Path], file_name: str) -> dict[str, str]:
        matching = sorted(n for n in tables if is_table(n, self.batch_file or ""))
        if not matching:
            raise BadLookupTable(
                file_name,
                f"its lookup {self.name!r} reads a file of the batch named like "
                f"{self.batch_file!r}, and the batch holds none",
                "Drop the reference file in the same folder batch, or ship it beside the "
                "profile and name it with `file:`.",
            )
        return read_table(tables[matching[0]], matching[0], self.key, self.value)
