"""How `staged_batch` reads a corrected rejects file dropped back in (see core/replay.py),
below Dagster: plain arguments, the ledger written through `db/replay.py`."""

from dataclasses import dataclass

from psycopg2.extensions import connection

from import_pipeline.core.profiles import CANONICAL, load_profile
from import_pipeline.core.replay import (
    ReplayProfile,
    corrected_batch,
    rejects_delimiter,
    rejects_sources,
    replay_profile,
)
from import_pipeline.core.stage import LandedFile
from import_pipeline.db import ledger, replay


@dataclass(frozen=True)
class Replay:
    """A batch of rejects files: how to read it, and the batch it corrects."""

    profile: ReplayProfile
    corrects: str | None

    @property
    def metadata(self) -> dict[str, str]:
        return {"replay_of": self.corrects or "unknown batch"}


def replay_of(conn: connection, batch: ledger.Batch, files: list[LandedFile]) -> Replay | None:
    """The replay a batch is when each of its files is a rejects CSV (None otherwise),
    recorded in the ledger as correcting the batch most of its rows came from."""
    delimiters = []
    for landed in files:  # the first file that is no rejects CSV settles it
        delimiter = rejects_delimiter(landed.path)
        if delimiter is None:
            return None
        delimiters.append(delimiter)
    if not files:
        return None
    sources = sorted(
        {s for f, d in zip(files, delimiters, strict=True) for s in rejects_sources(f.path, d)}
    )
    found = replay.rejected_sources(conn, batch.tenant, batch.partition_key, sources)
    corrects = corrected_batch(found)
    base_name = replay.profile_of(conn, corrects) if corrects else None
    base = load_profile(base_name) if base_name else CANONICAL
    entities = {source: rejected.entity for source, rejected in found.items()}
    replay.record_correction(conn, batch.partition_key, corrects)
    return Replay(replay_profile(base, delimiters[0], entities), corrects)
