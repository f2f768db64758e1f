"""Pass 2 of staging for a large entity: its valid parts regrouped into key ranges, so that
each range is deduped alone (every version of a key falls into the same range) and the
ranges go to the loader in key order."""

from pathlib import Path

import polars as pl

RANGE_BYTES = 96 << 20
"""Bytes of valid rows (in memory) deduped at a time at most."""

SAMPLE_EVERY = 100
"""One key in this many is kept to place the range boundaries."""


def key_ranges(
    valid_parts: tuple[Path, ...],
    valid_rows: int,
    valid_bytes: int,
    key_sample: pl.Series,
    key: str,
    range_rows: int,
) -> list[list[Path]]:
    """The valid parts, regrouped into key ranges of about `range_rows` rows, in key
    order: one group of every part when they are small enough together."""
    row_bytes = max(valid_bytes // max(valid_rows, 1), 1)
    range_rows = min(range_rows, max(RANGE_BYTES // row_bytes, 1))
    if valid_rows <= range_rows:
        return [list(valid_parts)] if valid_parts else []
    every = max(range_rows // SAMPLE_EVERY, 1)
    boundaries = key_sample.sort().gather_every(every, offset=every).unique(maintain_order=True)
    folder = valid_parts[0].parent / "ranges"
    folder.mkdir(exist_ok=True)
    ranges: dict[int, list[Path]] = {}
    for index, path in enumerate(valid_parts):
        frame = pl.read_ipc(path)
        which = boundaries.search_sorted(frame[key], side="right").alias("_range")
        pieces = frame.with_columns(which).partition_by("_range", as_dict=True, include_key=False)
        for (number,), piece in pieces.items():
            target = folder / f"{number:06}-{index:06}.arrow"
            piece.write_ipc(target, compression="uncompressed")
            ranges.setdefault(int(number), []).append(target)
        path.unlink()
    return [ranges[number] for number in sorted(ranges)]
