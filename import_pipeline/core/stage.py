"""A landed batch's files -> per-entity staged rows (valid, deduped, key-ordered) and rejects.

Staging runs in two passes so that memory is bounded by a batch of rows, not by the file:

1. `read_batch` reads every file in blocks of bytes, slices them by entity through the
   profile, validates each slice and writes its valid rows and its rejects as parts in a
   work folder. The reject rate is known after this pass, before anything is deduped.
2. `StagedBatch.deduped` keeps the newest row per key. An entity small enough is deduped
   in one go; a larger one is first split into key ranges (boundaries from a sample of
   its keys), and each range is deduped alone, since every version of a key falls into
   the same range. Each range goes to `write` in key order: the loader's chunks are then
   contiguous key ranges, which the upsert's key-ranged join relies on.

Row numbers (`_row`) count across the batch's files (in name order), so they stay unique per
batch and entity (the rejects table's key), and a later file wins a dedupe tie; each reject
also says where it came from (`_source` = `<file>:<row in that file>`).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import polars as pl

from import_pipeline.core.batch_profiles import BatchProfiles, single
from import_pipeline.core.blank import without_blank
from import_pipeline.core.columns import ERRORS, ROW, SOURCE
from import_pipeline.core.csv_records import FIELD_COUNT
from import_pipeline.core.dedupe import dedupe, listed_conflicts
from import_pipeline.core.entities import ENTITIES, EntitySpec, VersionOrder
from import_pipeline.core.errors import EmptyFile, MissingColumns
from import_pipeline.core.key_ranges import SAMPLE_EVERY, key_ranges
from import_pipeline.core.lookups import Misses, added_misses
from import_pipeline.core.manifest import Manifest
from import_pipeline.core.parse import read_blocks
from import_pipeline.core.profiles import Profile
from import_pipeline.core.report import BLANK, StageReport, summed
from import_pipeline.core.rules import TIMESTAMP, CastOptions, Requirement
from import_pipeline.core.validate import empty_valid, validate

READ_BLOCK_BYTES = 16 << 20
"""Bytes of a file's text read and validated at a time (pass 1): they bound staging
memory (validation holds a few copies of a batch's columns)."""

RANGE_ROWS = 1_000_000
"""Valid rows of an entity deduped at a time (pass 2); above it, the keys are split into
ranges of about this many rows (fewer when rows are wide, see core/key_ranges.py)."""

DEFAULT_MAX_REJECT_RATE = 0.10
"""Above this share of rejected rows an entity fails its batch (a profile or run may
change it)."""

Write = Callable[[str, pl.DataFrame], None]
"""Receives (entity, rows): an entity's staged rows, one key range at a time, in key order."""

Progress = Callable[[int, int], None]
"""Receives (rows read, rows validated) of the batch so far, after every block of a file."""


class LandedFile(NamedTuple):
    """One file of a batch: its name (relative to the batch's folder) and a local copy."""

    name: str
    path: Path


@dataclass(frozen=True)
class StagedEntity:
    """One entity's part of a batch. After pass 1: its valid parts (not yet deduped) and a
    sample of their keys; after pass 2: `rows`, how many deduped rows went to `write`."""

    report: StageReport
    valid_bytes: int = 0
    valid_parts: tuple[Path, ...] = ()
    reject_parts: tuple[Path, ...] = ()
    duplicate_parts: tuple[Path, ...] = ()
    key_sample: pl.Series = field(default_factory=lambda: pl.Series(dtype=pl.String))
    row_count: int = 0

    def rejects(self) -> Iterator[pl.DataFrame]:
        """The rejects, one part at a time (source columns, `_row`, `_errors`, `_source`)."""
        for path in self.reject_parts:
            yield pl.read_ipc(path)


@dataclass(frozen=True)
class StagedBatch:
    """Every entity of a batch (empty ones included) and the rows its files had."""

    file_name: str
    rows_read: int
    entities: dict[str, StagedEntity]
    lookup_misses: dict[str, Misses] = field(default_factory=dict)
    partial_rows: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return sum(e.report.rejected for e in self.entities.values())

    @property
    def reached_validation(self) -> int:
        return sum(e.report.reached_validation for e in self.entities.values())

    @property
    def reject_rate(self) -> float:
        """Rejected rows of the rows the rules judged (skipped rows never dilute it)."""
        reached = self.reached_validation
        return self.rejected / reached if reached else 0.0

    @property
    def rows_staged(self) -> int:
        return sum(e.row_count for e in self.entities.values())

    @property
    def present(self) -> dict[str, StagedEntity]:
        """The entities the batch's files feed (a file of products has no customers)."""
        return {name: e for name, e in self.entities.items() if e.report.rows_read}

    def duplicates(self) -> pl.LazyFrame:
        """Every version of every key in conflict (`_entity`, `_key`, `_outcome`, `_row`,
        the fields as text), entity by entity, key by key."""
        parts = [pl.scan_ipc(p) for e in self.entities.values() for p in e.duplicate_parts]
        if not parts:
            return pl.LazyFrame()
        return pl.concat(parts, how="diagonal_relaxed")

    def rejects(self) -> pl.LazyFrame:
        """Every entity's rejects in one frame (columns of all slices), entity by entity."""
        parts = [pl.scan_ipc(p) for e in self.entities.values() for p in e.reject_parts]
        if not parts:
            return pl.LazyFrame()
        return pl.concat(parts, how="diagonal_relaxed")

    def rejects_by_rule(self) -> dict[str, int]:
        return summed(e.report.rejects_by_rule for e in self.entities.values())

    def deduped(self, write: Write, range_rows: int = RANGE_ROWS) -> "StagedBatch":
        """Pass 2: keep the newest row per key and hand each entity's rows to `write`,
        key range by key range in key order. Every entity gets at least one (maybe
        empty) frame, so every loader finds its typed columns."""
        entities = {
            name: _deduped(part, ENTITIES[name], write, range_rows, self.partial_rows.get(name))
            for name, part in self.entities.items()
        }
        return replace(self, entities=entities)


def read_batch(
    files: list[LandedFile],
    batch_name: str,
    landed_at: datetime,
    profiles: Profile | BatchProfiles,
    workdir: Path,
    manifest: Manifest | None = None,
    block_bytes: int = READ_BLOCK_BYTES,
    progress: Progress | None = None,
    first_rows: Callable[[str, pl.DataFrame], None] | None = None,
) -> StagedBatch:
    """Pass 1: read, map and validate every file of a batch (a file, or a folder whose
    files are validated together), each by its own profile; any unusable file fails the
    whole batch. `first_rows` is shown each file's first block of rows before they are
    mapped (schema drift).

    A mapped profile reads each file whole: its group rules (forward fill within an
    order, one row per group, row numbers within a group) need every row of a group."""
    manifest = manifest or Manifest()
    manifest.check_files([f.name for f in files])
    if isinstance(profiles, Profile):
        profiles = single(profiles, [(f.name, f.path) for f in files])
    files = [f for f in files if f.name not in profiles.tables]
    if not files:
        raise EmptyFile(batch_name, "the folder holds no data files", "Drop the files first.")
    stagers = {
        name: _EntityStager(spec, workdir / name, landed_at) for name, spec in ENTITIES.items()
    }
    rows_read = 0
    misses: list[dict[str, Misses]] = []
    for landed in files:
        profile = profiles[landed.name]
        block = None if profile.mapping is not None else block_bytes
        file_rows = 0
        for read in read_blocks(landed.path, landed.name, workdir, profile.read, block):
            frame = read.rows.with_columns(pl.col(ROW) + rows_read)
            if first_rows is not None and file_rows == 0:
                first_rows(landed.name, frame)
            if frame.height:
                filled, blank = without_blank(frame)
                mapped = profile.slices(filled, landed.name, profiles.tables)
                misses.append(mapped.lookup_misses)
                for name, (part, skipped) in mapped.slices.items():
                    _require_columns(part, ENTITIES[name], landed.name)
                    skipped = {BLANK: blank, **skipped} if blank else skipped
                    rules = (profile.cast, profile.require.get(name, ()))
                    stagers[name].add(part, landed.name, rows_read, skipped, *rules)
            if read.broken.height:
                broken = read.broken.with_columns(pl.col(ROW) + rows_read)
                stager = stagers[profile.reject_entity(landed.name)]
                stager.add_broken(broken, landed.name, rows_read)
            file_rows += frame.height + read.broken.height
            if progress is not None:
                progress(rows_read + file_rows, sum(s.reached for s in stagers.values()))
        manifest.check_rows(landed.name, file_rows)
        rows_read += file_rows
    entities = {name: stager.staged() for name, stager in stagers.items()}
    return StagedBatch(
        batch_name, rows_read, entities, added_misses(misses), profiles.partial_rows()
    )


class _EntityStager:
    """Pass 1 for one entity: validates each slice and spills its valid rows and rejects
    to the work folder as uncompressed Arrow IPC parts (a memory copy to write, a memory
    map to read back: lz4 cost more time than the disk it saved)."""

    def __init__(self, spec: EntitySpec, folder: Path, landed_at: datetime):
        self.spec, self.folder, self.landed_at = spec, folder, landed_at
        self.valid_parts: list[Path] = []
        self.reject_parts: list[Path] = []
        self.samples: list[pl.Series] = []
        self.rows_read = self.valid = self.rejected = self.valid_bytes = 0
        self.by_rule: list[dict[str, int]] = []
        self.skipped: list[dict[str, int]] = []

    @property
    def reached(self) -> int:
        return self.valid + self.rejected

    def add(
        self,
        part: pl.DataFrame,
        file_name: str,
        file_offset: int,
        skipped: dict[str, int],
        cast: CastOptions,
        requirements: tuple[Requirement, ...],
    ) -> None:
        """Validate one slice of a file by its profile's rules and spill it."""
        checked = validate(part, self.spec, cast, requirements)
        self.rows_read += part.height + sum(skipped.values())
        self.skipped.append(skipped)
        if checked.valid.height:
            valid = checked.valid
            if self.spec.version.order is VersionOrder.TIMESTAMP:
                version = pl.col(self.spec.version.field)
                landed = pl.lit(self.landed_at).cast(TIMESTAMP)
                valid = valid.with_columns(version.fill_null(landed))
            self.valid_parts.append(self._spill(valid, "valid"))
            self.samples.append(valid[self.spec.key].gather_every(SAMPLE_EVERY))
            self.valid += valid.height
            self.valid_bytes += valid.estimated_size()
        if checked.rejects.height:
            source = pl.format("{}:{}", pl.lit(file_name), pl.col(ROW) - file_offset)
            rejects = checked.rejects.with_columns(source.alias(SOURCE))
            self.reject_parts.append(self._spill(rejects, "rejects"))
            self.rejected += rejects.height
            self.by_rule.append(checked.rejects_by_rule())

    def add_broken(self, broken: pl.DataFrame, file_name: str, file_offset: int) -> None:
        """Records that did not split into the header's fields: rejects as they are."""
        source = pl.format("{}:{}", pl.lit(file_name), pl.col(ROW) - file_offset)
        rejects = broken.with_columns(
            pl.concat_list(pl.lit(FIELD_COUNT)).alias(ERRORS), source.alias(SOURCE)
        )
        self.reject_parts.append(self._spill(rejects, "rejects"))
        self.rows_read += rejects.height
        self.rejected += rejects.height
        self.by_rule.append({FIELD_COUNT: rejects.height})

    def staged(self) -> StagedEntity:
        report = StageReport(
            entity=self.spec.name,
            rows_read=self.rows_read,
            valid=self.valid,
            rejected=self.rejected,
            skipped=summed(self.skipped),
            rejects_by_rule=summed(self.by_rule),
        )
        sample = pl.concat(self.samples) if self.samples else pl.Series(dtype=pl.String)
        return StagedEntity(
            report=report,
            valid_bytes=self.valid_bytes,
            valid_parts=tuple(self.valid_parts),
            reject_parts=tuple(self.reject_parts),
            key_sample=sample,
        )

    def _spill(self, frame: pl.DataFrame, kind: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{kind}-{len(self.valid_parts) + len(self.reject_parts):06}.arrow"
        frame.write_ipc(path, compression="uncompressed")
        return path


def _deduped(
    part: StagedEntity, spec: EntitySpec, write: Write, range_rows: int, partial: tuple | None
) -> StagedEntity:
    row_count = duplicates = conflicting = 0
    conflicts: list[Path] = []
    ranges = key_ranges(
        part.valid_parts, part.report.valid, part.valid_bytes, part.key_sample, spec.key, range_rows
    )
    for paths in ranges:
        result = dedupe(pl.scan_ipc(paths).collect(), spec, partial or ())
        write(spec.name, result.rows)
        row_count += result.rows.height
        duplicates += result.duplicates
        conflicting += result.conflicting_keys
        if result.conflicts.height:
            path = paths[0].with_name(f"duplicates-{len(conflicts):06}.arrow")
            listed_conflicts(result.conflicts, spec).write_ipc(path, compression="uncompressed")
            conflicts.append(path)
    if not part.valid_parts:
        write(spec.name, empty_valid(spec))
    report = replace(
        part.report, duplicates=duplicates, conflicting_keys=conflicting, staged=row_count
    )
    return replace(
        part,
        report=report,
        row_count=row_count,
        valid_parts=(),
        duplicate_parts=tuple(conflicts),
        key_sample=pl.Series(),
    )


def _require_columns(frame: pl.DataFrame, spec: EntitySpec, file_name: str) -> None:
    missing = [name for name in spec.required_fields if name not in frame.columns]
    if missing:
        found = ", ".join(c for c in frame.columns if c != ROW)
        raise MissingColumns(
            file_name,
            f"{spec.name} needs the column(s) {', '.join(missing)}; the file has {found}",
            "Add the missing column(s) to the export, or map them in the source profile.",
        )
