"""What staging writes to the staging store, below Dagster: each entity's deduped rows,
one Parquet file per key range, and the report CSVs (rejects, duplicates)."""

from collections.abc import Callable
from pathlib import Path

import polars as pl

from import_pipeline.core.stage import StagedBatch
from import_pipeline.files import layout
from import_pipeline.files.store import Store


def write_staged(read: StagedBatch, key: str, store: Store, row_group: int) -> StagedBatch:
    """Dedupe each entity into its staged folder, one Parquet file per key range (named in
    key order), replacing whatever an earlier run of this batch staged there."""
    for entity in read.entities:
        store.clear(layout.staged_folder(key, entity))
    written: dict[str, int] = {}

    def write(entity: str, rows: pl.DataFrame) -> None:
        index = written.get(entity, 0)
        written[entity] = index + 1
        store.write_parquet(rows, layout.staged_part(key, entity, index), row_group)

    return read.deduped(write)


def put_report(
    frame: pl.LazyFrame,
    write: Callable[[pl.LazyFrame, Path], None],
    store: Store,
    workdir: Path,
    key: str,
) -> str:
    """A report CSV (rejects or duplicates), streamed to disk, then into the staging store."""
    path = workdir / key.rsplit("/", 1)[-1]
    write(frame, path)
    return store.put_file(path, key)
