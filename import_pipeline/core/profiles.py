"""Source profiles: how a source's files map onto entities.

The canonical profile is built in: the file name says the entity (`customers*`, ...) and
columns carry the entity's field names (any case). Every other source is a YAML file in
the profiles directory (`IMPORT_PROFILES_DIR`, default the project's `profiles/`), so a
new source is onboarded by writing a file, not by changing code.
"""

import fnmatch
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from import_pipeline.core.columns import DEFAULT_IMAGE_COLUMNS, ROW
from import_pipeline.core.drift import DriftPolicy
from import_pipeline.core.entities import ENTITIES, EntitySpec, entity_for_file, load_rank
from import_pipeline.core.errors import UnknownEntity
from import_pipeline.core.mapping import MappedFile, Slice, SourceMapping
from import_pipeline.core.parse import ReadOptions
from import_pipeline.core.profile_yaml import ProfileError, load_profile_file
from import_pipeline.core.rules import CastOptions, Requirement

PROFILES_ENV = "IMPORT_PROFILES_DIR"
DEFAULT_PROFILES_DIR = Path(__file__).resolve().parents[2] / "profiles"


@dataclass(frozen=True, eq=False)
class Profile:
    """How to read a source's files and turn them into entity slices.

    `files` are globs matched against a landed file's name and its key below the landing
    root (`shopify/*`); `max_reject_rate`, when set, replaces the load's default threshold.
    Without a `mapping` the file is canonical: its name says the entity. `require`: per
    entity, the formats its fields must have beyond the entity's own rules.
    `partial_rows`: per entity, the fields whose blank value keeps the stored one.
    `image_columns`: the products' source columns (kept in `attributes`) holding image URLs,
    position 1 first.
    """

    name: str
    read: ReadOptions = field(default_factory=ReadOptions)
    cast: CastOptions = field(default_factory=CastOptions)
    files: tuple[str, ...] = ()
    max_reject_rate: float | None = None
    mapping: SourceMapping | None = None
    require: dict[str, tuple[Requirement, ...]] = field(default_factory=dict)
    partial_rows: dict[str, tuple[str, ...]] = field(default_factory=dict)
    image_columns: tuple[str, ...] = DEFAULT_IMAGE_COLUMNS
    drift: dict[str, DriftPolicy] = field(default_factory=dict)
    """Per entity: whether schema drift warns (default) or fails, and which columns vary."""

    def slices(
        self, frame: pl.DataFrame, file_name: str, tables: dict[str, Path] | None = None
    ) -> MappedFile:
        """Entity name -> the file's rows as that entity's text columns (plus extras), and
        the rows the entity skipped; with the misses of the profile's lookups."""
        if self.mapping is not None:
            return self.mapping.slices(frame, file_name, tables)
        spec = self._canonical_entity(file_name)
        fields = {name.lower(): name for name in spec.field_names}
        renames = {
            c: fields[c.strip().lower()] for c in frame.columns if c.strip().lower() in fields
        }
        return MappedFile(
            {spec.name: Slice(frame.rename(renames).select(ROW, pl.exclude(ROW)), {})}
        )

    def table_globs(self) -> tuple[str, ...]:
        """Globs of the batch's files this profile reads as lookup tables, not as rows."""
        if self.mapping is None:
            return ()
        return tuple(lk.batch_file for lk in self.mapping.lookups if lk.batch_file)

    def reject_entity(self, file_name: str) -> str:
        """The entity whose rejects hold a file's records that could not be read into
        rows: the file's entity, or the last (in load order) its mapping feeds, as a row of
        a file that fans out is one of its finest-grained entity (an order's line)."""
        if self.mapping is not None:
            return [name for name in ENTITIES if name in self.mapping.entities][-1]
        return self._canonical_entity(file_name).name

    def load_rank(self, file_name: str) -> int:
        """Where a file stands in foreign-key order (customers 0 .. line items 3): the
        deepest entity the profile maps it to, else what its canonical name says. A file
        then runs after every file that feeds only its parents (a marketplace's orders
        before its order items, whatever their names)."""
        if self.mapping is None:
            return load_rank(file_name)
        return max(list(ENTITIES).index(name) for name in self.mapping.entities)

    def reject_threshold(self, default: float) -> float:
        """The reject rate above which a batch fails: the profile's own, else `default`."""
        return default if self.max_reject_rate is None else self.max_reject_rate

    @staticmethod
    def _canonical_entity(file_name: str) -> EntitySpec:
        spec = entity_for_file(file_name)
        if spec is None:
            raise UnknownEntity(
                file_name,
                "the file name does not say which entity it holds",
                "Name it customers*, products*, orders*, line_items* or order_items*, "
                "or add a source profile that matches it.",
            )
        return spec

    def specificity(self, key: str) -> int:
        """Length of the longest glob matching the file's key or name; 0 if none does."""
        name = key.rsplit("/", 1)[-1].lower()
        matching = [
            len(glob)
            for glob in self.files
            if fnmatch.fnmatchcase(name, glob.lower())
            or fnmatch.fnmatchcase(key.lower(), glob.lower())
        ]
        return max(matching, default=0)


CANONICAL = Profile(name="canonical")


def profiles_dir() -> Path:
    """Where profile YAML files live: `IMPORT_PROFILES_DIR`, else the project's profiles/."""
    configured = os.environ.get(PROFILES_ENV)
    return Path(configured) if configured else DEFAULT_PROFILES_DIR


def profile_from_file(path: Path) -> Profile:
    """One YAML profile, checked; its name is the file's stem."""
    return _parsed(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _parsed(path: Path, modified_ns: int) -> Profile:
    """Profiles are parsed once per file version: the sensor resolves one per landed batch,
    and an edited file (new mtime) is parsed again."""
    loaded = load_profile_file(path)
    return Profile(
        name=path.stem,
        read=loaded.read,
        cast=loaded.cast,
        files=loaded.files,
        max_reject_rate=loaded.max_reject_rate,
        mapping=loaded.mapping,
        require=loaded.require,
        partial_rows=loaded.partial_rows,
        image_columns=loaded.images,
        drift=loaded.drift,
    )


def all_profiles(directory: Path | None = None) -> list[Profile]:
    """Every profile in the directory, by name; a missing directory holds none."""
    directory = directory or profiles_dir()
    if not directory.is_dir():
        return []
    return [profile_from_file(p) for p in sorted(directory.glob("*.yaml"))]


def load_profile(name: str, directory: Path | None = None) -> Profile:
    """The profile a batch was registered with (the ledger's `profile` column)."""
    if name == CANONICAL.name:
        return CANONICAL
    path = (directory or profiles_dir()) / f"{name}.yaml"
    if not path.is_file():
        raise ProfileError(
            str(path),
            f"the source profile {name!r} does not exist",
            f"Restore {path.name} in the profiles directory, or re-drop the file.",
        )
    return profile_from_file(path)


def resolve_profile(
    key: str, directory: Path | None = None, profiles: list[Profile] | None = None
) -> Profile:
    """The profile for a landed file's key: the one with the most specific matching glob
    (ties: first by name), else the built-in canonical profile. Pass `profiles` (from
    `all_profiles`) to resolve many keys against one reading of the directory."""
    best, best_score = CANONICAL, 0
    for profile in all_profiles(directory) if profiles is None else profiles:
        score = profile.specificity(key)
        if score > best_score:
            best, best_score = profile, score
    return best
