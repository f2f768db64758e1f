"""A mapped frame -> the rows that pass every rule (typed) and the rows that do not.

All rules of all fields are evaluated in one pass, so a row that breaks several rules
reports all of them; nothing here loops over rows in Python.
"""

import functools
from dataclasses import dataclass

import polars as pl

from import_pipeline.core.columns import ATTRIBUTES, ERRORS, ROW
from import_pipeline.core.entities import EntitySpec
from import_pipeline.core.quality import derived_value
from import_pipeline.core.rules import (
    CastOptions,
    Requirement,
    Rule,
    entity_rules,
    field_rules,
    sanitised,
    typed,
)

_TEXT = "__text__"


@dataclass(frozen=True)
class Validated:
    """`valid` has the spec's typed fields, `_row` and `attributes`; `rejects` the raw
    source columns, `_row` and `_errors`."""

    valid: pl.DataFrame
    rejects: pl.DataFrame

    def rejects_by_rule(self) -> dict[str, int]:
        if self.rejects.height == 0:
            return {}
        counts = self.rejects.select(pl.col(ERRORS).explode().value_counts(sort=True)).unnest(
            ERRORS
        )
        return dict(zip(counts[ERRORS].to_list(), counts["count"].to_list(), strict=True))


def validate(
    frame: pl.DataFrame,
    spec: EntitySpec,
    options: CastOptions,
    requirements: tuple[Requirement, ...] = (),
) -> Validated:
    """Split `frame` (text columns named by the spec's fields, plus extras) into valid
    typed rows and rejects, evaluating every rule of every row (the spec's, and the
    formats its source profile requires)."""
    absent = [name for name in spec.field_names if name not in frame.columns]
    raw = frame.with_columns(pl.lit(None, pl.String).alias(name) for name in absent)
    extras = [c for c in frame.columns if c != ROW and c not in spec.field_names]
    read = [field for field in spec.fields if not field.derived]

    # NOTE: eager frames get no common-subexpression elimination, so each stage is
    # materialised before the next reads it: text once per field, then values from it.
    texts = raw.select(
        pl.col(ROW),
        _attributes(extras),
        *[derived_value(f, extras).alias(f.name) for f in spec.fields if f.derived],
        *[sanitised(field.name).alias(_TEXT + field.name) for field in read],
    )
    checked = texts.with_columns(
        typed(field, pl.col(_TEXT + field.name), options).alias(field.name) for field in read
    )
    rules = [
        rule
        for field in read
        for rule in field_rules(field, pl.col(_TEXT + field.name), pl.col(field.name))
    ]
    rules += entity_rules(spec)
    rules += [requirement.rule(pl.col(requirement.field)) for requirement in requirements]

    broken = checked.select(_broken(rules)).to_series()
    valid = checked.filter(~broken).select(ROW, *spec.field_names, ATTRIBUTES)
    rejects = raw.filter(broken).select(ROW, *[c for c in frame.columns if c != ROW])
    rejects = rejects.with_columns(checked.filter(broken).select(_errors(rules)))
    return Validated(valid=valid, rejects=rejects)


def _broken(rules: list[Rule]) -> pl.Expr:
    """True where a row breaks at least one rule (a rule that is null does not count)."""
    return pl.any_horizontal(rule.broken for rule in rules).fill_null(False)


def _errors(rules: list[Rule]) -> pl.Expr:
    """The labels of the rules a row breaks, in rule order; built for rejects only, as a
    list per row costs far more than the rules themselves."""
    labels = [pl.when(rule.broken).then(pl.lit(rule.label)) for rule in rules]
    return pl.concat_list(labels).list.drop_nulls().alias(ERRORS)


def _attributes(extras: list[str]) -> pl.Expr:
    if not extras:
        return pl.lit(None, pl.String).alias(ATTRIBUTES)
    return pl.struct(sanitised(c).alias(c) for c in extras).struct.json_encode().alias(ATTRIBUTES)


@functools.cache
def empty_valid(spec: EntitySpec) -> pl.DataFrame:
    """No rows, but the typed columns a valid frame has; kept per entity, because a
    one-row file writes one for every entity it does not feed (a validation each)."""
    empty = pl.DataFrame(schema={ROW: pl.Int64, **{name: pl.String for name in spec.field_names}})
    return validate(empty, spec, CastOptions()).valid
