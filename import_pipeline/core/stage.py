"""A landed file's bytes -> per-entity staged rows and rejects, ready to upsert.

Parse once, slice by entity through the profile, validate, fill the version, dedupe.
Every entity appears in the result, most with zero rows, so all four assets always run.
"""

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from import_pipeline.core.dedupe import dedupe
from import_pipeline.core.entities import ENTITIES, VERSION_FIELD, EntitySpec
from import_pipeline.core.errors import MissingColumns, TooManyRejects
from import_pipeline.core.parse import ROW, parse_bytes
from import_pipeline.core.profiles import Profile
from import_pipeline.core.report import StageReport
from import_pipeline.core.rules import TIMESTAMP
from import_pipeline.core.validate import Validated, validate


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
    frame = parse_bytes(data, file_name, profile.read)
    slices = profile.slices(frame, file_name)
    entities = {}
    for name, spec in ENTITIES.items():
        if name in slices:
            _require_columns(slices[name], spec, file_name)
            entities[name] = _stage_entity(slices[name], spec, profile, landed_at)
        else:
            entities[name] = _stage_entity(_empty(spec), spec, profile, landed_at)
    return StagedBatch(file_name=file_name, rows_read=frame.height, entities=entities)


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
    frame: pl.DataFrame, spec: EntitySpec, profile: Profile, landed_at: datetime
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
    return StagedEntity(rows=deduped.rows, rejects=checked.rejects, report=report)


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
