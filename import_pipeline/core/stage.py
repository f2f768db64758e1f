"""A landed batch's files -> per-entity staged rows and rejects, ready to upsert.

Parse each file once, slice by entity through the profile, concatenate an entity's slices
of all files, validate, fill the version, dedupe. Every entity appears in the result, most
with zero rows, so all four assets always run.

Row numbers (`_row`) count across the batch's files (in name order), so they stay unique per
batch and entity (the rejects table's key), and a later file wins a dedupe tie; each reject
also says where it came from (`_source` = `<file>:<row in that file>`).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import polars as pl

from import_pipeline.core.dedupe import dedupe
from import_pipeline.core.entities import ENTITIES, VERSION_FIELD, EntitySpec
from import_pipeline.core.errors import EmptyFile, MissingColumns, TooManyRejects
from import_pipeline.core.manifest import Manifest
from import_pipeline.core.parse import ROW, parse_bytes
from import_pipeline.core.profiles import Profile
from import_pipeline.core.report import StageReport
from import_pipeline.core.rules import TIMESTAMP
from import_pipeline.core.validate import Validated, validate

SOURCE = "_source"
"""In a rejects frame: `<file>:<row in that file>`, so a multi-file batch's reject is found."""


class LandedFile(NamedTuple):
    """One file of a batch: its name (relative to the batch's folder) and bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class StagedEntity:
    """One entity's part of a batch: deduped valid rows sorted by key, and rejects."""

    rows: pl.DataFrame
    rejects: pl.DataFrame
    report: StageReport


@dataclass(frozen=True)
class StagedBatch:
    """All four entities of a batch (empty ones included) and the rows the file had."""

    file_name: str
    rows_read: int
    entities: dict[str, StagedEntity]

    @property
    def rejected(self) -> int:
        return sum(e.report.rejected for e in self.entities.values())

    @property
    def reject_rate(self) -> float:
        return self.rejected / self.rows_read if self.rows_read else 0.0

    @property
    def rows_staged(self) -> int:
        return sum(e.rows.height for e in self.entities.values())

    def rejects(self) -> pl.DataFrame:
        """Every entity's rejects in one frame (columns of all slices, in file order)."""
        parts = [e.rejects for e in self.entities.values() if e.rejects.height]
        if not parts:
            return pl.DataFrame()
        return pl.concat(parts, how="diagonal_relaxed").sort(ROW)

    def rejects_by_rule(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for entity in self.entities.values():
            for rule, n in entity.report.rejects_by_rule.items():
                totals[rule] = totals.get(rule, 0) + n
        return dict(sorted(totals.items(), key=lambda item: -item[1]))


def stage_file(data: bytes, file_name: str, landed_at: datetime, profile: Profile) -> StagedBatch:
    """Parse, map, validate and dedupe one file; raise a named error if it is unusable."""
    return stage_files([LandedFile(file_name, data)], file_name, landed_at, profile)


def stage_files(
    files: list[LandedFile],
    batch_name: str,
    landed_at: datetime,
    profile: Profile,
    manifest: Manifest | None = None,
) -> StagedBatch:
    """Stage several files as one batch (a folder): an entity's rows from all of them are
    validated and deduped together; any unusable file fails the whole batch."""
    manifest = manifest or Manifest()
    manifest.check_files([f.name for f in files])
    if not files:
        raise EmptyFile(batch_name, "the folder holds no data files", "Drop the files first.")
    parts: dict[str, list[pl.DataFrame]] = {name: [] for name in ENTITIES}
    firsts, rows_read = [], 0
    for landed in files:
        frame = parse_bytes(landed.data, landed.name, profile.read)
        manifest.check_rows(landed.name, frame.height)
        frame = frame.with_columns(pl.col(ROW) + rows_read)
        for name, part in profile.slices(frame, landed.name).items():
            _require_columns(part, ENTITIES[name], landed.name)
            parts[name].append(part)
        firsts.append((rows_read + 1, landed.name))
        rows_read += frame.height
    sources = pl.DataFrame(firsts, schema={ROW: pl.Int64, SOURCE: pl.String}, orient="row")
    entities = {
        name: _stage_entity(_concat(parts[name], spec), spec, profile, landed_at, sources)
        for name, spec in ENTITIES.items()
    }
    return StagedBatch(file_name=batch_name, rows_read=rows_read, entities=entities)


DEFAULT_MAX_REJECT_RATE = 0.10
"""Above this share of rejected rows a batch fails whole (a profile or run may change it)."""


def check_reject_rate(batch: StagedBatch, max_rate: float) -> None:
    """Fail the whole batch when too many rows are rejected: a file that bad is more
    likely a wrong export than a few bad rows, and loading its remainder would mislead."""
    if batch.reject_rate > max_rate:
        raise TooManyRejects(
            batch.file_name,
            f"{batch.rejected} of {batch.rows_read} rows ({batch.reject_rate:.1%}) break "
            f"validation rules, above the {max_rate:.1%} threshold",
            "Fix the export (see the rejects report of this run), or raise the threshold.",
        )


def _stage_entity(
    frame: pl.DataFrame,
    spec: EntitySpec,
    profile: Profile,
    landed_at: datetime,
    sources: pl.DataFrame,
) -> StagedEntity:
    checked: Validated = validate(frame, spec, profile.cast)
    versioned = checked.valid.with_columns(
        pl.col(VERSION_FIELD).fill_null(pl.lit(landed_at).cast(TIMESTAMP))
    )
    deduped = dedupe(versioned, spec)
    report = StageReport(
        entity=spec.name,
        rows_read=frame.height,
        valid=checked.valid.height,
        rejected=checked.rejects.height,
        duplicates=deduped.duplicates,
        conflicting_keys=deduped.conflicting_keys,
        rejects_by_rule=checked.rejects_by_rule(),
    )
    rejects = _with_source(checked.rejects, sources)
    return StagedEntity(rows=deduped.rows, rejects=rejects, report=report)


def _concat(parts: list[pl.DataFrame], spec: EntitySpec) -> pl.DataFrame:
    """One frame of an entity's slices from every file (columns one file lacks are null)."""
    return pl.concat(parts, how="diagonal") if parts else _empty(spec)


def _with_source(rejects: pl.DataFrame, sources: pl.DataFrame) -> pl.DataFrame:
    """Add `_source` (`file:row`) from the batch row number and each file's first row."""
    located = rejects.join_asof(
        sources.rename({SOURCE: "_file"}).with_columns(pl.col(ROW).alias("_first")),
        on=ROW,
    )
    source = pl.format("{}:{}", pl.col("_file"), pl.col(ROW) - pl.col("_first") + 1)
    return located.with_columns(source.alias(SOURCE)).drop("_file", "_first")


def _require_columns(frame: pl.DataFrame, spec: EntitySpec, file_name: str) -> None:
    missing = [name for name in spec.required_fields if name not in frame.columns]
    if missing:
        found = ", ".join(c for c in frame.columns if c != ROW)
        raise MissingColumns(
            file_name,
            f"{spec.name} needs the column(s) {', '.join(missing)}; the file has {found}",
            "Add the missing column(s) to the export, or map them in the source profile.",
        )


def _empty(spec: EntitySpec) -> pl.DataFrame:
    return pl.DataFrame(schema={ROW: pl.Int64, **{name: pl.String for name in spec.field_names}})
