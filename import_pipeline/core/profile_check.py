"""`profile-check`: what a profile makes of a file, before any rule judges it and without a
database: the mapped frame's first rows per entity, the rows each entity skips (and why),
and the lookups' misses. For the person writing a profile, who wants to see the mapping."""

from pathlib import Path

import polars as pl

from import_pipeline.core.blank import without_blank
from import_pipeline.core.columns import ROW
from import_pipeline.core.lookups import Misses, added_misses
from import_pipeline.core.parse import read_blocks
from import_pipeline.core.profiles import Profile
from import_pipeline.core.report import BLANK

SKIPPED_ROWS_SHOWN = 10


def profile_check(
    profile: Profile, path: Path, name: str, tables: dict[str, Path], workdir: Path, rows: int
) -> str:
    """The report of mapping one file: read whole, like a run reads a mapped file."""
    lines = [f"file: {name}", f"profile: {profile.name}"]
    misses: list[dict[str, Misses]] = []
    for block in read_blocks(path, name, workdir, profile.read, None):
        filled, blank = without_blank(block.rows)
        lines.append(f"rows read: {block.rows.height + block.broken.height}")
        if blank:
            lines.append(f"blank rows (skipped by every entity): {blank}")
        if block.broken.height:
            lines.append(
                f"records that do not split into the header's fields (rejects): "
                f"{block.broken.height}, first at row {block.broken[ROW][0]}"
            )
        mapped = profile.slices(filled, name, tables)
        misses.append(mapped.lookup_misses)
        for entity, (part, skipped) in mapped.slices.items():
            heading = f"{entity}: {part.height} rows mapped (before rules and dedupe)"
            lines += ["", heading, _table(part.drop(ROW), rows)]
            lines += _skipped(filled, part, skipped)
    lines += ["", *_misses(added_misses(misses))]
    return "\n".join(lines) + "\n"


def _table(frame: pl.DataFrame, rows: int) -> str:
    with pl.Config(
        tbl_rows=rows,
        tbl_cols=-1,
        fmt_str_lengths=32,
        tbl_width_chars=200,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
    ):
        return str(frame.head(rows))


def _skipped(source: pl.DataFrame, part: pl.DataFrame, skipped: dict[str, int]) -> list[str]:
    if not skipped:
        return ["  skips no row"]
    lines = [f"  skips {n} row(s): {reason}" for reason, n in skipped.items() if reason != BLANK]
    missing = source.filter(~pl.col(ROW).is_in(part[ROW].implode()))[ROW]
    shown = ", ".join(str(r) for r in missing.head(SKIPPED_ROWS_SHOWN))
    more = " ..." if missing.len() > SKIPPED_ROWS_SHOWN else ""
    return [*lines, f"  skipped rows (row numbers): {shown}{more}"]


def _misses(misses: dict[str, Misses]) -> list[str]:
    if not misses:
        return ["lookups: none"]
    return [
        f"lookup {name}: {m.count} miss(es)"
        + (f", e.g. {', '.join(repr(k) for k in m.examples)}" if m.examples else "")
        for name, m in misses.items()
    ]
