"""Blank rows: every source cell empty or whitespace, so no entity's row at all."""

import polars as pl

from import_pipeline.core.columns import ROW
from import_pipeline.core.rules import sanitised

LOOKS_BLANK = r"^[\s\x00\x{feff}]*$"
"""A cell of nothing but whitespace, NUL or BOM: a superset of what `sanitised` blanks."""


def without_blank(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """The rows with at least one non-blank source cell, and how many were all blank (no
    entity's rows, never judged by its rules). Only rows whose first cell looks blank (one
    regex over one column) are looked at further, several times faster than checking every
    cell (bench/README.md)."""
    columns = [c for c in frame.columns if c != ROW]
    if not columns:
        return frame, 0
    first = pl.col(columns[0])
    candidates = frame.filter(first.is_null() | first.str.contains(LOOKS_BLANK))
    if candidates.height == 0:
        return frame, 0
    rest = [sanitised(c).is_null() for c in columns[1:]]
    blank = candidates.filter(pl.all_horizontal(rest)) if rest else candidates
    if blank.height == 0:
        return frame, 0
    return frame.filter(~pl.col(ROW).is_in(blank[ROW].implode())), blank.height
