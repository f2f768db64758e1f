"""Both staging passes on files at hand, everything kept in memory: the CLI's `validate`
and `profile-check`, and tests. A run stages through `read_batch` and writes Parquet."""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import polars as pl

from import_pipeline.core.batch_profiles import BatchProfiles
from import_pipeline.core.entities import ENTITIES
from import_pipeline.core.profiles import Profile
from import_pipeline.core.stage import LandedFile, StagedBatch, read_batch


@contextmanager
def stage_files(
    files: list[LandedFile],
    batch_name: str,
    landed_at: datetime,
    profile: Profile | BatchProfiles,
) -> Iterator[tuple[StagedBatch, dict[str, pl.DataFrame]]]:
    """Both passes on local files, read in place (the CLI): the staged batch and each
    entity's deduped rows as one frame. Its rejects can be read inside the block only."""
    collected: dict[str, list[pl.DataFrame]] = {name: [] for name in ENTITIES}
    with tempfile.TemporaryDirectory(prefix="stage-") as work:
        staged = read_batch(files, batch_name, landed_at, profile, Path(work))
        staged = staged.deduped(lambda entity, rows: collected[entity].append(rows))
        yield staged, {name: pl.concat(parts) for name, parts in collected.items()}


@contextmanager
def stage_in_memory(
    files: list[tuple[str, bytes]],
    batch_name: str,
    landed_at: datetime,
    profile: Profile | BatchProfiles,
) -> Iterator[tuple[StagedBatch, dict[str, pl.DataFrame]]]:
    """`stage_files` on files held in memory (tests), written to a temp folder first."""
    with tempfile.TemporaryDirectory(prefix="landed-") as folder:
        landed = []
        for index, (name, data) in enumerate(files):
            path = Path(folder) / f"landed-{index}"
            path.write_bytes(data)
            landed.append(LandedFile(name, path))
        with stage_files(landed, batch_name, landed_at, profile) as result:
            yield result
