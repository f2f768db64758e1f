"""The rejects (and duplicates) CSVs a data engineer opens in a spreadsheet, fixes and
drops back in."""

import io
from pathlib import Path

import polars as pl

from import_pipeline.core.columns import ERRORS, ROW

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""Cells a spreadsheet would run as a formula when they start with one of these."""


def neutralised(name: str) -> pl.Expr:
    """Prefix formula-like cells with `'` so a spreadsheet shows them as text (OWASP CSV
    injection advice); the replayed file then carries the `'`, which the data engineer
    removes while fixing the row."""
    col = pl.col(name).cast(pl.String)
    risky = pl.any_horizontal(col.str.starts_with(start) for start in FORMULA_STARTS)
    return pl.when(risky).then(pl.lit("'") + col).otherwise(col).alias(name)


def rejects_csv(rejects: pl.DataFrame, header: bool = True) -> bytes:
    """Original columns, then `_row` and `_errors` (`; `-separated), every cell safe."""
    buffer = io.BytesIO()
    _spreadsheet_safe(rejects.lazy()).collect().write_csv(buffer, include_header=header)
    return buffer.getvalue()


def write_rejects_csv(rejects: pl.LazyFrame, path: Path) -> None:
    """The same CSV as `rejects_csv`, streamed to a file (a large batch's rejects)."""
    _spreadsheet_safe(rejects).sink_csv(path)


def write_safe_csv(frame: pl.LazyFrame, path: Path) -> None:
    """Any text frame (the duplicates) as a CSV with every cell safe, columns in order."""
    names = frame.collect_schema().names()
    frame.select(neutralised(c) for c in names).sink_csv(path)


def _spreadsheet_safe(rejects: pl.LazyFrame) -> pl.LazyFrame:
    names = rejects.collect_schema().names()
    originals = [c for c in names if c not in (ROW, ERRORS)]
    return rejects.select(
        *[neutralised(c) for c in originals],
        pl.col(ROW),
        pl.col(ERRORS).list.join("; "),
    )
