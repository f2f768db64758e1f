"""Expression operations of a source profile: arithmetic, rounding, regex, case, trim,
pad, concatenation and dates, each compiled to one polars expression (never `eval`).

Every operation takes operands that are themselves derivations (a column, a constant or
another operation) and returns text, so the entity's rules still cast and check the
result. An operand that is present but not a number makes arithmetic give that operand's
own text, so a numeric field rejects it rather than silently storing a null.
"""

from functools import reduce

import polars as pl

from import_pipeline.core.derive import Derived

ARITHMETIC = ("add", "subtract", "multiply", "divide")
TIME_PARTS = ("year", "month", "day", "hour", "minute", "weekday", "date")
ISO = "%Y-%m-%dT%H:%M:%S"


def _union(parts: list[Derived]) -> frozenset[str]:
    return frozenset().union(*(p.columns for p in parts))


def _number_text(number: pl.Expr) -> pl.Expr:
    """A float as text: whole numbers without `.0` (a quantity stays an integer), others
    rounded to 6 decimals so binary noise (59.970000000000006) never reaches a price."""
    rounded = number.round(6)
    whole = rounded == rounded.round(0)
    return (
        pl.when(whole & (rounded.abs() < 1e15))
        .then(rounded.cast(pl.Int64, strict=False).cast(pl.String))
        .otherwise(rounded.cast(pl.String))
    )


def arithmetic(operation: str, operands: list[Derived]) -> Derived:
    """`add`, `subtract`, `multiply` or `divide` over two or more operands, left to right;
    null when an operand is null, division by zero null."""
    numbers = [o.expr.cast(pl.Float64, strict=False) for o in operands]
    if operation == "add":
        result = reduce(lambda a, b: a + b, numbers)
    elif operation == "subtract":
        result = reduce(lambda a, b: a - b, numbers)
    elif operation == "multiply":
        result = reduce(lambda a, b: a * b, numbers)
    else:
        result = reduce(lambda a, b: pl.when(b != 0).then(a / b), numbers)
    chain = pl.when(pl.lit(False)).then(pl.lit(None, pl.String))
    for operand, number in zip(operands, numbers, strict=True):
        chain = chain.when(operand.expr.is_not_null() & number.is_null()).then(operand.expr)
    return Derived(chain.otherwise(_number_text(result)), _union(operands))


def rounded(value: Derived, digits: int) -> Derived:
    """The number rounded half away from zero to `digits` decimals; other text passes."""
    number = value.expr.cast(pl.Float64, strict=False)
    result = number.round(digits, mode="half_away_from_zero")
    text = _number_text(result) if digits else result.cast(pl.Int64).cast(pl.String)
    return Derived(pl.when(number.is_null()).then(value.expr).otherwise(text), value.columns)


def extract(value: Derived, pattern: str, group: int) -> Derived:
    """The regex's `group` (0: the whole match) from the text; null when it does not match."""
    return Derived(value.expr.str.extract(pattern, group), value.columns)


def replace(value: Derived, pattern: str, replacement: str) -> Derived:
    """Every match of the regex replaced (`$1` names a group); a result that is blank is
    null, like a blank source cell."""
    replaced = value.expr.str.replace_all(pattern, replacement)
    return Derived(_blank_is_null(replaced), value.columns)


def upper(value: Derived) -> Derived:
    return Derived(value.expr.str.to_uppercase(), value.columns)


def lower(value: Derived) -> Derived:
    return Derived(value.expr.str.to_lowercase(), value.columns)


def trim(value: Derived, characters: str | None, side: str) -> Derived:
    """Characters (default whitespace) removed from the `start`, `end` or `both` sides."""
    text = value.expr.str
    stripped = {
        "both": text.strip_chars(characters),
        "start": text.strip_chars_start(characters),
        "end": text.strip_chars_end(characters),
    }[side]
    return Derived(_blank_is_null(stripped), value.columns)


def pad(value: Derived, length: int, fill: str, side: str) -> Derived:
    """Text filled up to `length` characters at the `start` (zip codes, ids) or `end`."""
    text = value.expr.str
    padded = text.pad_start(length, fill) if side == "start" else text.pad_end(length, fill)
    return Derived(padded, value.columns)


def concat(parts: list[Derived]) -> Derived:
    """The parts one after another; null when any part is null (a key half built from a
    missing part is rejected as missing)."""
    return Derived(pl.concat_str([p.expr for p in parts]), _union(parts))


def parse_time(value: Derived, format: str) -> Derived:
    """Text in `format` (strftime, e.g. `%d/%m/%Y %H:%M`) -> ISO 8601 text; text that does
    not fit passes through, so the field's rule rejects it."""
    parsed = _parsed(value.expr, format)
    iso = parsed.dt.to_string(ISO + ("%:z" if _zoned(format) else ""))
    return Derived(pl.when(parsed.is_null()).then(value.expr).otherwise(iso), value.columns)


def time_part(value: Derived, part: str, format: str | None) -> Derived:
    """One part of a date or time (`year` ... `minute`, `weekday` 1 = Monday, `date` as
    YYYY-MM-DD), read with `format` or as ISO 8601; null when it cannot be read."""
    parsed = _parsed(value.expr, format)
    if part == "date":
        result = parsed.dt.date().cast(pl.String)
    else:
        result = getattr(parsed.dt, part)().cast(pl.String)
    return Derived(result, value.columns)


def _zoned(format: str | None) -> bool:
    return format is not None and ("%z" in format or "%:z" in format)


def _parsed(text: pl.Expr, format: str | None) -> pl.Expr:
    zone = "UTC" if _zoned(format) else None
    return text.str.strptime(pl.Datetime("us", zone), format, strict=False)


def _blank_is_null(text: pl.Expr) -> pl.Expr:
    return pl.when(text.str.len_bytes() > 0).then(text)
