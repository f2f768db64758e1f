"""Validation rules as named polars expressions, evaluated for every row at once.

Each rule is a boolean expression that is true where a row breaks it; its name is what a
data engineer sees in the rejects report (`email:format`, `quantity:minimum`).
"""

from dataclasses import dataclass

import polars as pl

from import_pipeline.core.currencies import ISO_4217
from import_pipeline.core.entities import EntitySpec, Field, Format, Kind

DEFAULT_TIMESTAMP_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S %z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)
"""ISO 8601 shapes, with and without an offset; a profile may add its own."""

DECIMAL = pl.Decimal(18, 4)
TIMESTAMP = pl.Datetime("us", "UTC")
LINE_TOTAL_TOLERANCE = 0.01

_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_UUID = r"^(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_CONTROL_JUNK = "[\x00\ufeff]"
_WHITESPACE = " \t\r\n"


@dataclass(frozen=True)
class CastOptions:
    """How text becomes typed values: timestamp formats, the zone of naive timestamps, and
    whether numbers are written `1.234,5` (decimal comma, `.` grouping digits)."""

    timestamp_formats: tuple[str, ...] = DEFAULT_TIMESTAMP_FORMATS
    time_zone: str = "UTC"
    decimal_comma: bool = False


@dataclass(frozen=True)
class Rule:
    """A named check on one field; `broken` is true where a row fails it."""

    field: str
    name: str
    broken: pl.Expr

    @property
    def label(self) -> str:
        return f"{self.field}:{self.name}"


def sanitised(name: str) -> pl.Expr:
    """Text with NUL and BOM removed and outer whitespace trimmed; blank becomes null."""
    text = pl.col(name).str.replace_all(_CONTROL_JUNK, "").str.strip_chars(_WHITESPACE)
    return pl.when(text.str.len_bytes() > 0).then(text).otherwise(None)


def typed(field: Field, text: pl.Expr, options: CastOptions) -> pl.Expr:
    """The field's value cast from sanitised text; null where it does not cast."""
    if options.decimal_comma and field.kind in (Kind.INT, Kind.DECIMAL):
        text = text.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
    if field.kind is Kind.INT:
        number = text.str.replace_all(",", "").cast(pl.Float64, strict=False)
        whole = number.is_finite() & (number == number.floor()) & (number.abs() < 2**53)
        return pl.when(whole).then(number.cast(pl.Int64)).otherwise(None)
    if field.kind is Kind.DECIMAL:
        return text.cast(DECIMAL, strict=False)
    if field.kind is Kind.TIMESTAMP:
        return _timestamp(text, options)
    if field.format is Format.CURRENCY:
        return text.str.to_uppercase()
    if field.lowercase:
        return text.str.to_lowercase()
    return text


def _timestamp(text: pl.Expr, options: CastOptions) -> pl.Expr:
    """The first format that parses wins; naive values are read in the profile's zone."""
    candidates = []
    for fmt in options.timestamp_formats:
        parsed = text.str.to_datetime(fmt, strict=False, time_unit="us")
        if "%z" not in fmt and "%#z" not in fmt:
            parsed = parsed.dt.replace_time_zone(
                options.time_zone, ambiguous="earliest", non_existent="null"
            ).dt.convert_time_zone("UTC")
        candidates.append(parsed.cast(TIMESTAMP))
    return pl.coalesce(candidates)


def field_rules(field: Field, text: pl.Expr, value: pl.Expr) -> list[Rule]:
    """Every rule one field carries, given its sanitised text and its cast value."""
    rules = []
    if field.required:
        rules.append(Rule(field.name, "required", text.is_null()))
    if field.kind is not Kind.TEXT:
        rules.append(
            Rule(field.name, field.kind.name.lower(), text.is_not_null() & value.is_null())
        )
    if field.format is Format.EMAIL:
        rules.append(Rule(field.name, "format", ~value.str.contains(_EMAIL)))
    elif field.format is Format.CURRENCY:
        rules.append(Rule(field.name, "format", ~value.is_in(ISO_4217)))
    elif field.format is Format.UUID:
        rules.append(Rule(field.name, "format", ~value.str.contains(_UUID)))
    if field.max_length is not None:
        rules.append(Rule(field.name, "max_length", value.str.len_chars() > field.max_length))
    if field.minimum is not None:
        too_small = value <= field.minimum if field.exclusive_minimum else value < field.minimum
        rules.append(Rule(field.name, "minimum", too_small))
    if field.choices:
        rules.append(Rule(field.name, "choice", ~value.is_in(field.choices)))
    return rules


def entity_rules(spec: EntitySpec) -> list[Rule]:
    """Rules across fields of one row, on the cast values."""
    if {"line_total", "quantity", "unit_price"} <= set(spec.field_names):
        expected = pl.col("quantity").cast(pl.Float64) * pl.col("unit_price").cast(pl.Float64)
        off = (pl.col("line_total").cast(pl.Float64) - expected).abs()
        return [Rule("line_total", "arithmetic", off > LINE_TOTAL_TOLERANCE + 1e-9)]
    return []
