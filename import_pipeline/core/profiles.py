"""Source profiles: how a source's files map onto entities.

The canonical profile is built in: the file name says the entity (`customers*`, ...) and
columns carry the entity's field names (any case).
"""

from dataclasses import dataclass, field

import polars as pl

from import_pipeline.core.entities import entity_for_file
from import_pipeline.core.errors import UnknownEntity
from import_pipeline.core.parse import ROW, ReadOptions
from import_pipeline.core.rules import CastOptions


@dataclass(frozen=True)
class Profile:
    """How to read a source's files and turn them into entity slices."""

    name: str
    read: ReadOptions = field(default_factory=ReadOptions)
    cast: CastOptions = field(default_factory=CastOptions)

    def slices(self, frame: pl.DataFrame, file_name: str) -> dict[str, pl.DataFrame]:
        """Entity name -> the file's rows as that entity's text columns (plus extras)."""
        spec = entity_for_file(file_name)
        if spec is None:
            raise UnknownEntity(
                file_name,
                "the file name does not say which entity it holds",
                "Name it customers*, products*, orders*, line_items* or order_items*, "
                "or add a source profile that matches it.",
            )
        fields = {name.lower(): name for name in spec.field_names}
        renames = {
            c: fields[c.strip().lower()] for c in frame.columns if c.strip().lower() in fields
        }
        return {spec.name: frame.rename(renames).select(ROW, pl.exclude(ROW))}


CANONICAL = Profile(name="canonical")
