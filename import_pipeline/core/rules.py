"""Validation rules as named polars expressions, evaluated for every row at once.

Each rule is a boolean expression that is true where a row breaks it; its name is what a
data engineer sees in the rejects report (`email:format`, `quantity:minimum`).
"""

from dataclasses import dataclass
from functools import partial

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

EMAIL_SHAPE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
UUID_SHAPE = r"^(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_CONTROL_JUNK = "[\x00\ufeff]"
_WHITESPACE = " \t\r\n"
_EXACT_FLOAT_LIMIT = 2**53
"""Whole numbers below this in magnitude survive a trip through Float64 unchanged."""
_CANDIDATE = "__candidate__"
_EXCEL_EPOCH_US = -2_209_161_600_000_000
"""1899-12-30T00:00 in microseconds since 1970: Excel's day 0 (1900 date system; serials
below 61 are one day off, as Excel counts a 29 February 1900 that never was)."""
_EXCEL_LAST_SERIAL = 2_958_465
"""9999-12-31, the last date Excel shows."""
_MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class CastOptions:
    """How text becomes typed values: timestamp formats, the zone of naive timestamps,
    whether numbers are written `1.234,5` (decimal comma, `.` grouping digits), and whether
    a plain number in a timestamp field is an Excel serial date (`45352.5`, days since
    1899-12-30: a date column a workbook stored without a date format)."""

    timestamp_formats: tuple[str, ...] = DEFAULT_TIMESTAMP_FORMATS
    time_zone: str = "UTC"
    decimal_comma: bool = False
    excel_dates: bool = False


@dataclass(frozen=True)
class Rule:
    """A named check on one field; `broken` is true where a row fails it."""

    field: str
    name: str
    broken: pl.Expr

    @property
    def label(self) -> str:
        return f"{self.field}:{self.name}"


@dataclass(frozen=True)
class Requirement:
    """A format a source profile requires of one field's value (`uuid`, `email`, a regex
    `pattern` the whole value matches, a length range); the rule is named after it."""

    field: str
    name: str
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None

    def rule(self, value: pl.Expr) -> Rule:
        if self.name == "uuid":
            broken = ~value.str.contains(UUID_SHAPE)
        elif self.name == "email":
            broken = ~value.str.contains(EMAIL_SHAPE)
        elif self.pattern is not None:
            broken = ~value.str.contains(f"^(?:{self.pattern})$")
        else:
            length = value.str.len_chars()
            broken = pl.lit(False)
            if self.min_length is not None:
                broken = broken | (length < self.min_length)
            if self.max_length is not None:
                broken = broken | (length > self.max_length)
        return Rule(self.field, self.name, broken)


def sanitised(name: str) -> pl.Expr:
    """Text with NUL and BOM removed and outer whitespace trimmed; blank becomes null."""
    text = pl.col(name).str.replace_all(_CONTROL_JUNK, "").str.strip_chars(_WHITESPACE)
    # NOTE: eager frames get no common-subexpression elimination, so `text` is named once
    # (`when(text != "").then(text)` would compute it twice).
    return text.replace("", None)


def typed(field: Field, text: pl.Expr, options: CastOptions) -> pl.Expr:
    """The field's value cast from sanitised text; null where it does not cast."""
    if options.decimal_comma and field.kind in (Kind.INT, Kind.DECIMAL):
        text = text.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
    if field.kind is Kind.INT:
        return _first_cast(text, [_plain_int(), _int_via_float()], pl.Int64())
    if field.kind is Kind.DECIMAL:
        return text.cast(DECIMAL, strict=False)
    if field.kind is Kind.TIMESTAMP:
        return _timestamp(text, options)
    if field.format is Format.CURRENCY:
        return text.str.to_uppercase()
    if field.lowercase:
        return text.str.to_lowercase()
    return text


def _plain_int() -> pl.Expr:
    """Digits with an optional sign (`42`, `-7`), cast directly: most files hold nothing
    else, and this is far cheaper than `_int_via_float`. It gives up (null) outside the
    range a float holds exactly, so `_int_via_float` decides there and the two never
    disagree."""
    number = pl.col(_CANDIDATE).cast(pl.Int64, strict=False)
    exact = number.is_between(-_EXACT_FLOAT_LIMIT, _EXACT_FLOAT_LIMIT, closed="none")
    return pl.when(exact).then(number)


def _int_via_float() -> pl.Expr:
    """Any whole number a float reads (`1,000`, `3.0`, `1e3`), if it is exact as a float."""
    number = pl.col(_CANDIDATE).str.replace_all(",", "").cast(pl.Float64, strict=False)
    whole = number.is_finite() & (number == number.floor()) & (number.abs() < _EXACT_FLOAT_LIMIT)
    return pl.when(whole).then(number.cast(pl.Int64))


def _timestamp(text: pl.Expr, options: CastOptions) -> pl.Expr:
    """The first format that parses wins; naive values are read in the profile's zone."""
    candidates = []
    for fmt in options.timestamp_formats:
        parsed = pl.col(_CANDIDATE).str.to_datetime(fmt, strict=False, time_unit="us")
        if "%z" not in fmt and "%#z" not in fmt:
            parsed = parsed.dt.replace_time_zone(
                options.time_zone, ambiguous="earliest", non_existent="null"
            ).dt.convert_time_zone("UTC")
        candidates.append(parsed.cast(TIMESTAMP))
    if options.excel_dates:
        candidates.append(_excel_serial(options.time_zone))
    return _first_cast(text, candidates, TIMESTAMP)


def _excel_serial(time_zone: str) -> pl.Expr:
    """A number of days since Excel's day 0, read as a naive time in the profile's zone;
    null outside 1..9999-12-31, so a stray number is a reject, not a date."""
    days = pl.col(_CANDIDATE).cast(pl.Float64, strict=False)
    # NOTE: Excel keeps times to the millisecond; a serial's float digits beyond that are
    # noise (06:30 is 45354.270833333336), so round there rather than to the microsecond.
    millis = (days * _MS_PER_DAY).round().cast(pl.Int64, strict=False)
    micros = millis * 1000 + _EXCEL_EPOCH_US
    naive = micros.cast(pl.Datetime("us"))
    local = naive.dt.replace_time_zone(time_zone, ambiguous="earliest", non_existent="null")
    value = local.dt.convert_time_zone("UTC").cast(TIMESTAMP)
    return pl.when(days.is_between(1, _EXCEL_LAST_SERIAL + 1, closed="left")).then(value)


def _first_cast(text: pl.Expr, casts: list[pl.Expr], dtype: pl.DataType) -> pl.Expr:
    """Per value, the first of `casts` (elementwise, on `pl.col(_CANDIDATE)`) that is not
    null, like `pl.coalesce`; but each cast runs only on the values every earlier one
    missed, so clean data is cast once instead of once per cast (a coalesce evaluates
    every cast on every row, which made timestamps most of validation's time)."""
    return text.map_batches(
        partial(_first_cast_of, casts=casts), return_dtype=dtype, is_elementwise=True
    )


def _first_cast_of(text: pl.Series, casts: list[pl.Expr]) -> pl.Series:
    """`_first_cast` on one batch: the first cast on every value, each later one on the
    positions (`todo`) still null but not blank."""
    first, *rest = casts
    cast = _cast_with(text, first)
    todo = (cast.is_null() & text.is_not_null()).arg_true()
    for candidate in rest:
        if todo.is_empty():
            break
        attempt = _cast_with(text.gather(todo), candidate)
        hit = attempt.is_not_null()
        cast = cast.scatter(todo.filter(hit), attempt.filter(hit))
        todo = todo.filter(~hit)
    return cast


def _cast_with(text: pl.Series, cast: pl.Expr) -> pl.Series:
    """One cast expression (on `pl.col(_CANDIDATE)`) applied to a series."""
    return pl.DataFrame({_CANDIDATE: text}).select(cast).to_series().alias(text.name)


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
        rules.append(Rule(field.name, "format", ~value.str.contains(EMAIL_SHAPE)))
    elif field.format is Format.CURRENCY:
        rules.append(Rule(field.name, "format", ~value.is_in(ISO_4217)))
    elif field.format is Format.UUID:
        rules.append(Rule(field.name, "format", ~value.str.contains(UUID_SHAPE)))
    elif field.format is Format.GTIN:
        rules.append(Rule(field.name, "gtin", ~gtin_valid(value)))
    if field.max_length is not None:
        rules.append(Rule(field.name, "max_length", value.str.len_chars() > field.max_length))
    if field.minimum is not None:
        too_small = value <= field.minimum if field.exclusive_minimum else value < field.minimum
        rules.append(Rule(field.name, "minimum", too_small))
    if field.choices:
        rules.append(Rule(field.name, "choice", ~value.is_in(field.choices)))
    return rules


def gtin_valid(value: pl.Expr) -> pl.Expr:
    """GTIN-8/12/13/14: only digits, and the last is the check digit of the others (left-
    padded to 14 digits, weights 3 and 1 alternating from the left, sum mod 10)."""
    shape = value.str.contains(r"^(?:\d{8}|\d{12}|\d{13}|\d{14})$")
    padded = value.str.zfill(14)
    digit = [padded.str.slice(i, 1).cast(pl.Int32, strict=False) for i in range(14)]
    total = pl.sum_horizontal(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(digit[:13]))
    return shape & (((10 - total % 10) % 10) == digit[13])


def entity_rules(spec: EntitySpec) -> list[Rule]:
    """Rules across fields of one row, on the cast values."""
    if {"line_total", "quantity", "unit_price"} <= set(spec.field_names):
        expected = pl.col("quantity").cast(pl.Float64) * pl.col("unit_price").cast(pl.Float64)
        off = (pl.col("line_total").cast(pl.Float64) - expected).abs()
        return [Rule("line_total", "arithmetic", off > LINE_TOTAL_TOLERANCE + 1e-9)]
    return []
