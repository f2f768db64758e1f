"""Which source profile maps each file of a batch, so one folder batch can hold several
shapes (a marketplace's four-table dump) and still load all-or-nothing in FK order.

A file is mapped by the profile its manifest names for it; else by the batch's profile
when a profile matched the batch as a whole (a folder `shopify/*`); else by the profile
matching its own name, or the canonical one. Files that a profile of the batch reads as
lookup tables are tables, not rows.
"""

from dataclasses import dataclass
from pathlib import Path

from import_pipeline.core.drift import DriftAction, DriftPolicy
from import_pipeline.core.lookups import is_table
from import_pipeline.core.manifest import Manifest
from import_pipeline.core.profiles import (
    CANONICAL,
    Profile,
    all_profiles,
    load_profile,
    resolve_profile,
)
from import_pipeline.core.rules import CastOptions, Requirement


@dataclass(frozen=True)
class BatchProfiles:
    """File name -> its profile, for the data files of a batch; `tables`: the files read
    as lookup tables, by name."""

    by_file: dict[str, Profile]
    tables: dict[str, Path]

    def __getitem__(self, file_name: str) -> Profile:
        return self.by_file[file_name]

    @property
    def used(self) -> list[Profile]:
        """Each profile of the batch once, by name."""
        return sorted({p.name: p for p in self.by_file.values()}.values(), key=lambda p: p.name)

    def names(self) -> dict[str, str]:
        """File name -> profile name (the batch's metadata)."""
        return {name: profile.name for name, profile in self.by_file.items()}

    def reject_threshold(self, default: float) -> float:
        """The strictest threshold of the batch's profiles: the batch loads as one."""
        return min(p.reject_threshold(default) for p in self.used)

    def partial_rows(self) -> dict[str, tuple[str, ...]]:
        """Per entity, the fields any of the batch's profiles declares partial."""
        partial: dict[str, tuple[str, ...]] = {}
        for profile in self.used:
            for entity, fields in profile.partial_rows.items():
                partial[entity] = tuple(dict.fromkeys(partial.get(entity, ()) + fields))
        return partial

    def drift(self) -> dict[str, DriftPolicy]:
        """Per entity, the batch's drift policy: `fail` if any of its profiles fails it,
        with the columns any of them lets vary."""
        merged: dict[str, DriftPolicy] = {}
        for profile in self.used:
            for entity, policy in profile.drift.items():
                seen = merged.get(entity, DriftPolicy())
                failing = DriftAction.FAIL in (seen.action, policy.action)
                action = DriftAction.FAIL if failing else DriftAction.WARN
                vary = tuple(dict.fromkeys(seen.may_vary + policy.may_vary))
                merged[entity] = DriftPolicy(action, vary)
        return merged

    def cast(self, file_name: str) -> CastOptions:
        return self.by_file[file_name].cast

    def requirements(self, file_name: str, entity: str) -> tuple[Requirement, ...]:
        return self.by_file[file_name].require.get(entity, ())


def single(profile: Profile, files: list[tuple[str, Path]]) -> BatchProfiles:
    """Every file mapped by one profile (a one-file batch, the CLI's `--profile`)."""
    return _split({name: profile for name, _ in files}, files)


def batch_profiles(
    files: list[tuple[str, Path]],
    batch_profile: Profile,
    manifest: Manifest,
    directory: Path | None = None,
) -> BatchProfiles:
    """Each file's profile (see the module's docstring), read from `directory`."""
    known = all_profiles(directory) if batch_profile is CANONICAL else []
    chosen = {}
    for name, _ in files:
        if name in manifest.profiles:
            chosen[name] = load_profile(manifest.profiles[name], directory)
        elif batch_profile is not CANONICAL:
            chosen[name] = batch_profile
        else:
            chosen[name] = resolve_profile(name, profiles=known)
    return _split(chosen, files)


def _split(chosen: dict[str, Profile], files: list[tuple[str, Path]]) -> BatchProfiles:
    globs = [glob for profile in chosen.values() for glob in profile.table_globs()]
    tables = {name: path for name, path in files if any(is_table(name, g) for g in globs)}
    return BatchProfiles({n: p for n, p in chosen.items() if n not in tables}, tables)
