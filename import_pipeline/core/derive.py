"""Derivations a source profile may use for a field: polars expressions over source text.

Each derivation is one small operation (a column, a template, a row number within a
group, a constant, a value map, a condition, a scale, ...). They read sanitised source
text (trimmed, blank as null) and return text, so the entity's rules still cast and
check the result: a derivation never hides a bad value, it only reshapes it.
"""

import re
from dataclasses import dataclass

import polars as pl

from import_pipeline.core.rules import sanitised

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True, eq=False)
class Derived:
    """A derivation as an expression plus the source columns it reads (checked per file)."""

    expr: pl.Expr
    columns: frozenset[str]


def column(name: str) -> Derived:
    """The source column as it is (sanitised)."""
    return Derived(sanitised(name), frozenset({name}))


def constant(value: str) -> Derived:
    """The same text on every row (e.g. a currency the file does not carry)."""
    return Derived(pl.lit(value, pl.String), frozenset())


def placeholders(text: str) -> list[str]:
    """Column names a template refers to: `{order_id}-{line_no}` -> [order_id, line_no]."""
    return _PLACEHOLDER.findall(text)


def template(text: str) -> Derived:
    """Text with `{column}` placeholders filled in; null when any placeholder is null, so
    a key built from a missing part is rejected as missing rather than half-built."""
    parts: list[pl.Expr] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        if match.start() > position:
            parts.append(pl.lit(text[position : match.start()]))
        parts.append(sanitised(match.group(1)))
        position = match.end()
    if position < len(text):
        parts.append(pl.lit(text[position:]))
    return Derived(pl.concat_str(parts), frozenset(placeholders(text)))


def row_number(by: list[str]) -> Derived:
    """1, 2, 3 ... within each group, in file order: a stable line number for rows that
    have no id of their own, as long as the source keeps its row order."""
    groups = [sanitised(c) for c in by]
    number = pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(groups)
    return Derived(number.cast(pl.String), frozenset(by))


def first_in_group(name: str, by: list[str]) -> Derived:
    """The group's first non-blank value of a column, on every row of the group."""
    value = sanitised(name)
    first = value.filter(value.is_not_null()).first()
    return Derived(first.over([sanitised(c) for c in by]), frozenset({name, *by}))


def coalesce(options: list[Derived]) -> Derived:
    """The first option that is not null."""
    return Derived(pl.coalesce([o.expr for o in options]), _union(options))


def join(names: list[str], separator: str) -> Derived:
    """Non-blank columns joined by a separator (Shopify's `Red / XL` variant titles)."""
    joined = pl.concat_str([sanitised(c) for c in names], separator=separator, ignore_nulls=True)
    return Derived(pl.when(joined.str.len_bytes() > 0).then(joined), frozenset(names))


def value_map(name: str, values: dict[str, str], keep_others: bool) -> Derived:
    """Source values replaced by ours (`ItemType.BEVERAGE` -> `beverage`); others kept or
    nulled."""
    text = sanitised(name)
    old, new = list(values), list(values.values())
    mapped = (
        text.replace(old, new)
        if keep_others
        else text.replace_strict(old, new, default=None, return_dtype=pl.String)
    )
    return Derived(mapped, frozenset({name}))


def absolute(name: str) -> Derived:
    """The number without its minus sign, done on text so no precision is lost."""
    return Derived(sanitised(name).str.strip_prefix("-"), frozenset({name}))


def scaled(name: str, divide_by: float) -> Derived:
    """A number divided by a constant (prices in cents -> units). Text that is not a number
    passes through unchanged, so the field's rule rejects it instead of nulling it."""
    text = sanitised(name)
    number = text.cast(pl.Float64, strict=False)
    result = (number / divide_by).round(6).cast(pl.String)
    return Derived(pl.when(number.is_null()).then(text).otherwise(result), frozenset({name}))


def split(name: str, separator: str, rest: bool) -> Derived:
    """The part before the first separator, or (rest) everything after it."""
    text = sanitised(name)
    parts = text.str.splitn(separator, 2).struct
    part = parts.field("field_1") if rest else parts.field("field_0")
    return Derived(part.str.strip_chars(), frozenset({name}))


@dataclass(frozen=True, eq=False)
class Condition:
    """A test on one column: `starts_with`, `equals`, `matches` (regex), `one_of`, or
    `present` (non-blank)."""

    column: str
    test: str
    value: object

    def expr(self) -> pl.Expr:
        text = sanitised(self.column)
        if self.test == "starts_with":
            return text.str.starts_with(str(self.value))
        if self.test == "equals":
            return text == str(self.value)
        if self.test == "matches":
            return text.str.contains(str(self.value))
        if self.test == "one_of":
            return text.is_in([str(v) for v in self.value])  # type: ignore[attr-defined]
        return text.is_not_null() == bool(self.value)


CONDITION_TESTS = ("starts_with", "equals", "matches", "one_of", "present")


def when(cases: list[tuple[Condition, Derived]], otherwise: Derived | None) -> Derived:
    """The first case whose condition holds gives the value (`C` invoices -> cancelled)."""
    (condition, value), *others = cases
    chain = pl.when(condition.expr().fill_null(False)).then(value.expr)
    for condition, value in others:
        chain = chain.when(condition.expr().fill_null(False)).then(value.expr)
    result = chain.otherwise(otherwise.expr if otherwise else pl.lit(None, pl.String))
    columns = {c.column for c, _ in cases} | _union([v for _, v in cases])
    return Derived(result, frozenset(columns | (otherwise.columns if otherwise else set())))


def _union(parts: list[Derived]) -> frozenset[str]:
    return frozenset().union(*(p.columns for p in parts))
