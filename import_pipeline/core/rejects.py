"""The rejects CSV a data engineer opens in a spreadsheet, fixes and drops back in."""

import io

import polars as pl

from import_pipeline.core.parse import ROW
from import_pipeline.core.validate import ERRORS

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""Cells a spreadsheet would run as a formula when they start with one of these."""


def neutralised(name: str) -> pl.Expr:
    """Prefix formula-like cells with `'` so a spreadsheet shows them as text (OWASP CSV
    injection advice); the replayed file then carries the `'`, which the data engineer
    removes while fixing the row."""
    col = pl.col(name).cast(pl.String)
    risky = pl.any_horizontal(col.str.starts_with(start) for start in FORMULA_STARTS)
    return pl.when(risky).then(pl.lit("'") + col).otherwise(col).alias(name)


def rejects_csv(rejects: pl.DataFrame) -> bytes:
    """Original columns, then `_row` and `_errors` (`; `-separated), every cell safe."""
    originals = [c for c in rejects.columns if c not in (ROW, ERRORS)]
    frame = rejects.select(
        *[neutralised(c) for c in originals],
        pl.col(ROW),
        pl.col(ERRORS).list.join("; "),
    )
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return buffer.getvalue()
