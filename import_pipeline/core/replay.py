"""A rejects CSV a person corrected and dropped back in (a replay): read as the canonical
columns it holds, whatever its name, each row fed to the entity it was rejected from, the
cells the rejects file neutralised for spreadsheets restored.

A replay is known by its header (`_row` and `_errors`), checked before the file is read:
its rows are the entities' fields as validation saw them, so it is read with the canonical
layout and the cast rules of the batch it corrects (its dates are the source's dates).
"""

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from import_pipeline.core.columns import BOOKKEEPING, REPLAYED, ROW, SOURCE, is_rejects_header
from import_pipeline.core.decode import first_bytes
from import_pipeline.core.entities import ENTITIES
from import_pipeline.core.errors import UnknownEntity
from import_pipeline.core.formats import FileFormat
from import_pipeline.core.mapping import MappedFile, Slice
from import_pipeline.core.parse import ReadOptions
from import_pipeline.core.profiles import Profile
from import_pipeline.core.rejects import FORMULA_STARTS

DELIMITERS = (",", ";", "\t")
"""A rejects file is written with commas; a spreadsheet may save it with `;` or tabs."""

REPLAYED_SOURCE = REPLAYED + SOURCE
_ENTITY = "__replayed_entity__"


def rejects_delimiter(path: Path) -> str | None:
    """The delimiter of the file's header when it is a rejects CSV's header, else None."""
    head = first_bytes(path).decode("utf-8", errors="replace").lstrip("\ufeff")
    first = head.splitlines()[0] if head.strip() else ""
    for delimiter in DELIMITERS:
        fields = next(csv.reader(io.StringIO(first), delimiter=delimiter), [])
        if is_rejects_header([f.strip() for f in fields]):
            return delimiter
    return None


def rejects_sources(path: Path, delimiter: str) -> list[str]:
    """Every row's `_source` (`<file>:<row>`), as the rejects file wrote it; none when the
    file has no such column (one written before it existed)."""
    header = pl.read_csv(path, n_rows=0, separator=delimiter, infer_schema=False).columns
    if SOURCE not in header:
        return []
    column = pl.read_csv(path, columns=[SOURCE], separator=delimiter, infer_schema=False)
    return column.select(unneutralised(SOURCE)).to_series().drop_nulls().unique().to_list()


def unneutralised(name: str) -> pl.Expr:
    """Undo `rejects.neutralised`: drop the `'` put before a formula-like start."""
    col = pl.col(name)
    quoted = pl.any_horizontal(col.str.starts_with("'" + start) for start in FORMULA_STARTS)
    return pl.when(quoted).then(col.str.slice(1)).otherwise(col).alias(name)


@dataclass(frozen=True)
class Rejected:
    """Where the ledger saw a replayed row's source rejected: its batch and entity."""

    partition_key: str
    entity: str


def corrected_batch(found: dict[str, Rejected]) -> str | None:
    """The batch most of the replayed rows were rejected from (None: none is known)."""
    counted = Counter(r.partition_key for r in found.values())
    return counted.most_common(1)[0][0] if counted else None


@dataclass(frozen=True, eq=False)
class ReplayProfile(Profile):
    """Reads a replay: canonical columns (any case), each row sliced to the entity the
    ledger rejected its source from (`entities`, source -> entity), else to the finest
    entity whose key the row has; the bookkeeping columns are dropped."""

    entities: dict[str, str] = field(default_factory=dict)

    def slices(
        self, frame: pl.DataFrame, file_name: str, tables: dict[str, Path] | None = None
    ) -> MappedFile:
        frame = frame.with_columns(_entity_of(frame, self.entities).alias(_ENTITY))
        replayed = [REPLAYED + c for c in BOOKKEEPING if REPLAYED + c in frame.columns]
        found = {}
        for name in frame[_ENTITY].unique(maintain_order=True).to_list():
            rows = frame.filter(pl.col(_ENTITY) == name).drop(_ENTITY, *replayed)
            found[name] = Slice(_as_entity(rows, name), {})
        return MappedFile(found)

    def reject_entity(self, file_name: str) -> str:
        """A record of the replay that does not split into fields: the finest entity the
        replay feeds (its text says which, a person reads it)."""
        fed = set(self.entities.values())
        return [name for name in ENTITIES if name in fed][-1] if fed else list(ENTITIES)[-1]


def replay_profile(base: Profile, delimiter: str, entities: dict[str, str]) -> ReplayProfile:
    """How to read a replay of a batch loaded with `base`: its cast rules and requirements,
    the rejects file's own CSV layout, and no reject threshold (every row of a rejects file
    was a reject: a person who fixed some of them wants those loaded)."""
    return ReplayProfile(
        name=f"replay of {base.name}",
        read=ReadOptions(format=FileFormat.CSV, delimiter=delimiter),
        cast=base.cast,
        max_reject_rate=1.0,
        require=base.require,
        entities=entities,
    )


def _entity_of(frame: pl.DataFrame, entities: dict[str, str]) -> pl.Expr:
    """Each row's entity: the ledger's for its source, else the finest entity whose key
    column the row fills, else the finest whose key column the file has."""
    lowered = {c.lower(): c for c in frame.columns}
    keyed = [s for s in reversed(ENTITIES.values()) if s.key in lowered]
    if not keyed and not entities:
        raise UnknownEntity(
            "replay",
            "the rejects file has no entity's key column and none of its rows is known",
            "Keep the key columns (customer_id, product_id, order_id, line_item_id) of "
            "the rejects file when correcting it.",
        )
    fallback: pl.Expr = pl.lit(keyed[0].name if keyed else list(ENTITIES)[-1])
    for spec in reversed(keyed):
        key = pl.col(lowered[spec.key])
        fallback = (
            pl.when(key.is_not_null() & (key != "")).then(pl.lit(spec.name)).otherwise(fallback)
        )
    if REPLAYED_SOURCE not in frame.columns or not entities:
        return fallback
    source = unneutralised(REPLAYED_SOURCE)
    known = source.replace_strict(entities, default=None, return_dtype=pl.String)
    return pl.coalesce(known, fallback)


def _as_entity(rows: pl.DataFrame, entity: str) -> pl.DataFrame:
    """One entity's replayed rows as a canonical slice: fields named as the entity names
    them, neutralised cells restored, other entities' empty columns dropped."""
    fields = {name.lower(): name for name in ENTITIES[entity].field_names}
    empty = [
        c
        for c in rows.columns
        if c != ROW
        and c.lower() not in fields
        and rows.select((pl.col(c).is_null() | (pl.col(c) == "")).all()).item()
    ]
    rows = rows.drop(empty)
    renames = {c: fields[c.lower()] for c in rows.columns if c.lower() in fields}
    text = [c for c in rows.columns if c != ROW]
    return rows.with_columns(unneutralised(c) for c in text).rename(renames)
