"""Schema drift: how a file's columns and values differ from what its profile (or, for a
canonical file, its entity) expects. A partner's earlier files set nothing: the baseline is
always the profile, so the same file drifts the same way on every run.

Per file: columns added, missing (required / optional), renamed-looking (a missing column
and an added one with a similar name, or whose values have the missing field's shape); per
entity of the batch: fields whose values mostly stopped casting to their type.
"""

import difflib
import re
from dataclasses import dataclass, field
from enum import StrEnum

import polars as pl

from import_pipeline.core.columns import ROW
from import_pipeline.core.entities import (
    ENTITIES,
    EntitySpec,
    Field,
    Format,
    Kind,
    entity_for_file,
)
from import_pipeline.core.errors import ImportFileError
from import_pipeline.core.mapping import SourceMapping
from import_pipeline.core.profile_nodes import Node
from import_pipeline.core.rules import EMAIL_SHAPE, UUID_SHAPE

SAMPLE_ROWS = 1000
"""Rows of a file's first block whose values judge a renamed-looking column's shape."""

TYPE_CHANGED_SHARE = 0.5
"""A field whose values fail to cast in more than this share of rows has changed type."""

SHAPE_SHARE = 0.8
"""An added column whose values have a missing field's shape in this share of its sample
looks like that field renamed."""

SIMILAR_NAMES = 0.8
"""difflib's ratio between two normalised names above which they look like one name."""

_SHAPES = {
    Kind.INT: r"^[+-]?\d+$",
    Kind.DECIMAL: r"^[+-]?\d+(?:[.,]\d+)?$",
    Kind.TIMESTAMP: r"^(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})",
    Format.EMAIL: EMAIL_SHAPE,
    Format.CURRENCY: r"^[A-Za-z]{3}$",
    Format.UUID: UUID_SHAPE,
}


class DriftAction(StrEnum):
    """What drift does to the batch: a warning in its report, or a failed batch."""

    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class DriftPolicy:
    """A profile's word on one entity's drift; `may_vary`: columns that come and go freely."""

    action: DriftAction = DriftAction.WARN
    may_vary: tuple[str, ...] = ()


class SchemaDrift(ImportFileError):
    """A file's columns or types drifted from its profile, whose policy is `fail`."""


@dataclass(frozen=True)
class ColumnDrift:
    """How one file's columns differ from what its profile expects of the entities it feeds."""

    file: str
    entities: tuple[str, ...]
    added: tuple[str, ...] = ()
    missing_required: tuple[str, ...] = ()
    missing_optional: tuple[str, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()
    """(expected, found) pairs."""

    @property
    def drifted(self) -> bool:
        return bool(self.added or self.missing_required or self.missing_optional or self.renamed)

    def words(self) -> list[str]:
        said = [
            f"added {', '.join(self.added)}" if self.added else "",
            f"missing required {', '.join(self.missing_required)}" if self.missing_required else "",
            f"missing optional {', '.join(self.missing_optional)}" if self.missing_optional else "",
            "renamed-looking " + ", ".join(f"{old} -> {new}" for old, new in self.renamed)
            if self.renamed
            else "",
        ]
        return [f"{self.file}: {s}" for s in said if s]


@dataclass(frozen=True)
class TypeDrift:
    """A field of an entity whose values mostly no longer cast to its type."""

    entity: str
    field: str
    share: float

    def words(self) -> str:
        return f"{self.entity}.{self.field}: {self.share:.0%} of values no longer cast"


@dataclass(frozen=True)
class Drift:
    """A batch's drift, file by file and entity by entity."""

    columns: tuple[ColumnDrift, ...] = ()
    types: tuple[TypeDrift, ...] = ()

    @property
    def drifted(self) -> bool:
        return bool(self.types) or any(c.drifted for c in self.columns)

    def entities(self) -> set[str]:
        drifted = {e for c in self.columns if c.drifted for e in c.entities}
        return drifted | {t.entity for t in self.types}

    def failing(self, policies: dict[str, DriftPolicy]) -> list[str]:
        """The drifted entities whose policy fails the batch."""
        fail = DriftAction.FAIL
        return sorted(e for e in self.entities() if policy_of(policies, e).action is fail)

    def words(self) -> list[str]:
        return [w for c in self.columns for w in c.words()] + [t.words() for t in self.types]

    def as_json(self) -> dict:
        return {
            "files": [
                {
                    "file": c.file,
                    "entities": list(c.entities),
                    "added": list(c.added),
                    "missing_required": list(c.missing_required),
                    "missing_optional": list(c.missing_optional),
                    "renamed": {old: new for old, new in c.renamed},
                }
                for c in self.columns
                if c.drifted
            ],
            "type_changed": [
                {"entity": t.entity, "field": t.field, "share": round(t.share, 4)}
                for t in self.types
            ],
        }


def policy_of(policies: dict[str, DriftPolicy], entity: str) -> DriftPolicy:
    return policies.get(entity, DriftPolicy())


@dataclass(frozen=True)
class Expected:
    """The columns a profile expects of a file: required ones, optional ones, and whether
    it takes any other column without a word (`open`: a mapping keeping every extra)."""

    entities: tuple[str, ...]
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    open: bool = False
    fields: dict[str, Field] = field(default_factory=dict)
    """The entity field each expected column is, where it is one (to judge shapes)."""
    quiet: tuple[str, ...] = ()
    """Columns taken without a word whether there or not (a canonical file's version)."""
    optional_may_be_absent: bool = False
    """A canonical file may leave optional fields out: only a renamed-looking one is said."""


def expected(mapping: SourceMapping | None, file_name: str) -> Expected | None:
    """What the profile expects of `file_name`'s columns (None: its name says no entity,
    which reading reports by itself)."""
    if mapping is None:
        spec = entity_for_file(file_name)
        return _canonical(spec) if spec else None
    required = set().union(*(m.referenced() for m in mapping.entities.values()))
    required |= set().union(*(h.columns for h in mapping.helpers.values()), set())
    required |= set(mapping.forward_fill) | set(mapping.forward_fill_by)
    listed = [m.attributes for m in mapping.entities.values()]
    optional = {c for a in listed if a for c in a} - required
    return Expected(
        tuple(mapping.entities),
        tuple(sorted(required)),
        tuple(sorted(optional)),
        open=any(a is None for a in listed),
    )


def _canonical(spec: EntitySpec) -> Expected:
    """A canonical file's columns are its entity's fields (a file without its version
    field is versioned by its landing time, by design, so that one is never missed)."""
    readable = [f for f in spec.fields if not f.derived]
    version = spec.version.field
    return Expected(
        (spec.name,),
        tuple(f.name for f in readable if f.required),
        tuple(f.name for f in readable if not f.required and f.name != version),
        fields={f.name: f for f in readable},
        quiet=(version,),
        optional_may_be_absent=True,
    )


def column_drift(
    file_name: str,
    sample: pl.DataFrame,
    wanted: Expected,
    rename: dict[str, str],
    may_vary: set[str],
) -> ColumnDrift:
    """How the file's columns (`sample`: its first rows, renamed as its profile renames
    layout variants) differ from `wanted`, columns in `may_vary` aside (any case)."""
    columns = [rename.get(c, c) for c in sample.columns if c != ROW]
    sample = sample.rename({c: rename[c] for c in sample.columns if c in rename})
    vary = {c.lower() for c in may_vary}
    present = {c.lower() for c in columns}
    known = {c.lower() for c in (*wanted.required, *wanted.optional, *wanted.quiet)}
    added = [c for c in columns if c.lower() not in known and c.lower() not in vary]
    missing = [c for c in (*wanted.required, *wanted.optional) if c.lower() not in present | vary]
    renamed = _renamed_looking(missing, [] if wanted.open else added, sample, wanted.fields)
    if wanted.open:
        added = []
    taken_old, taken_new = {o for o, _ in renamed}, {n for _, n in renamed}
    required = set(wanted.required)
    absent = () if wanted.optional_may_be_absent else missing
    return ColumnDrift(
        file=file_name,
        entities=wanted.entities,
        added=tuple(c for c in added if c not in taken_new),
        missing_required=tuple(c for c in missing if c in required and c not in taken_old),
        missing_optional=tuple(c for c in absent if c not in required and c not in taken_old),
        renamed=tuple(renamed),
    )


def _renamed_looking(
    missing: list[str], added: list[str], sample: pl.DataFrame, fields: dict[str, Field]
) -> list[tuple[str, str]]:
    """Pairs (missing, added) that look like one column renamed: the most similar names
    first, then a missing field whose shape exactly one remaining added column has."""
    pairs = sorted(
        ((_similarity(m, a), m, a) for m in missing for a in added),
        reverse=True,
    )
    renamed: list[tuple[str, str]] = []
    for score, old, new in pairs:
        if score < SIMILAR_NAMES:
            break
        if all(old != o and new != n for o, n in renamed):
            renamed.append((old, new))
    for old in missing:
        shape = _shape(fields.get(old))
        if shape is None or any(old == o for o, _ in renamed):
            continue
        left = [a for a in added if all(a != n for _, n in renamed)]
        shaped = [a for a in left if _share_shaped(sample, a, shape) >= SHAPE_SHARE]
        if len(shaped) == 1:
            renamed.append((old, shaped[0]))
    return renamed


def _similarity(old: str, new: str) -> float:
    a, b = _normalised(old), _normalised(new)
    if a == b or (min(len(a), len(b)) >= 4 and (a in b or b in a)):
        return 1.0
    return difflib.SequenceMatcher(None, a, b).ratio()


def _normalised(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _shape(spec: Field | None) -> str | None:
    if spec is None:
        return None
    return _SHAPES.get(spec.format) if spec.format else _SHAPES.get(spec.kind)


def _share_shaped(sample: pl.DataFrame, column: str, shape: str) -> float:
    values = sample.get_column(column).cast(pl.String).str.strip_chars().drop_nulls()
    values = values.filter(values != "")
    return values.str.contains(shape).mean() if values.len() else 0.0


def type_drift(
    entity: EntitySpec, rejects_by_rule: dict[str, int], reached: int
) -> list[TypeDrift]:
    """Fields of `entity` whose values failed to cast in most rows that reached its rules."""
    if not reached:
        return []
    found = []
    for spec in entity.fields:
        if spec.kind is Kind.TEXT or spec.derived:
            continue
        share = rejects_by_rule.get(f"{spec.name}:{spec.kind.name.lower()}", 0) / reached
        if share > TYPE_CHANGED_SHARE:
            found.append(TypeDrift(entity.name, spec.name, share))
    return found


def drift_policies(node: Node) -> dict[str, DriftPolicy]:
    """A profile's `drift: {entity: {on_drift: warn | fail, may_vary: [columns]}}`."""
    policies = {}
    for entity, entity_node in node.mapping(tuple(ENTITIES)).items():
        keys = entity_node.mapping(("on_drift", "may_vary"))
        action = DriftAction.WARN
        if "on_drift" in keys:
            word = keys["on_drift"].text()
            if word not in tuple(DriftAction):
                raise keys["on_drift"].fail("on_drift is warn or fail")
            action = DriftAction(word)
        may_vary = tuple(keys["may_vary"].texts()) if "may_vary" in keys else ()
        policies[entity] = DriftPolicy(action, may_vary)
    return policies
