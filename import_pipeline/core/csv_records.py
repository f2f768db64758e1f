"""CSV text cut into records, each checked against the header's field count, then parsed.

A record whose field count differs from the header's is never padded or cut (polars would
do either without a word): it comes out as a broken record, with its raw text, for staging
to reject as `row:field_count`. Counting is set-based (polars string expressions over the
block's lines), so it costs a pass over the block, not a Python loop over rows.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import polars as pl

from import_pipeline.core.columns import LINE, PROBLEM, ROW, replayed_or_refused
from import_pipeline.core.errors import DuplicateColumns, UnreadableFile

UTF8_BOM = b"\xef\xbb\xbf"

MAX_RECORD_BLOCKS = 8
"""Blocks one record may span before the file is refused (an unclosed quote)."""

FIELD_COUNT = "row:field_count"
"""The reject label of a record whose field count is not the header's."""

_TEXT = "__record__"
NO_BROKEN = pl.DataFrame(schema={ROW: pl.Int64, LINE: pl.String, PROBLEM: pl.String})


@dataclass(frozen=True)
class Dialect:
    """How a file's records and fields are written; `pad_short_rows` lets a record with
    fewer fields than the header through (the missing ones read as blank)."""

    separator: str
    quote: str | None
    eol: str
    has_header: bool
    skip_rows: int
    pad_short_rows: bool


class Piece(NamedTuple):
    """One block's records: `rows` as text columns and `broken` (`_row`, `_line`,
    `_problem`), both numbered by `_row` from 1 within the block; `records` counts both."""

    rows: pl.DataFrame
    broken: pl.DataFrame
    records: int


def csv_pieces(blocks: Iterator[bytes], dialect: Dialect, file_name: str) -> Iterator[Piece]:
    """Each block's records, field counts checked against the header (or, without one,
    against the first record). Blank lines before the header are passed over, as polars
    does."""
    names: list[str] | None = None
    skip = dialect.skip_rows
    for block in blocks:
        if names is not None:
            yield _piece(block, names, dialect, file_name)
            continue
        for start, end in _record_spans(block, dialect):
            if skip:
                skip -= 1
            elif block[start:end].strip():
                names = _header(block[start:end], dialect, file_name)
                body = block[end:] if dialect.has_header else block[start:]
                yield _piece(body, names, dialect, file_name)
                break


def _record_spans(block: bytes, dialect: Dialect) -> Iterator[tuple[int, int]]:
    """Where each record starts and ends (after its end of line), one at a time: an end
    of line ends a record when an even number of quotes precede it."""
    eol = dialect.eol.encode()
    quote = dialect.quote.encode() if dialect.quote else None
    start = position = quotes = 0
    while position < len(block):
        found = block.find(eol, position)
        end = len(block) if found < 0 else found + len(eol)
        quotes += block.count(quote, position, end) if quote else 0
        position = end
        if quotes % 2 == 0 or found < 0:
            yield start, end
            start = end


def _header(record: bytes, dialect: Dialect, file_name: str) -> list[str]:
    """The column names (`column_1`... without a header); duplicates are refused."""
    fields = _parse(record, None, dialect).row(0)
    if not dialect.has_header:
        return [f"column_{i}" for i in range(1, len(fields) + 1)]
    names = [(name or "").strip().lstrip("\ufeff") for name in fields]
    names = replayed_or_refused(names, file_name)
    refuse_duplicates(names, file_name)
    return names


def refuse_duplicates(names: list[str], file_name: str) -> None:
    """Raise `DuplicateColumns` if a header names a column twice (ignoring case): a reader
    would rename one silently and a mapping would read the wrong one."""
    seen: dict[str, str] = {}
    duplicated = []
    for name in names:
        if name.lower() in seen:
            duplicated.append(f"{seen[name.lower()]!r} and {name!r}")
        seen.setdefault(name.lower(), name)
    if duplicated:
        raise DuplicateColumns(
            file_name,
            f"the header names a column twice ({'; '.join(duplicated)}; names are compared "
            "ignoring case)",
            "Rename or remove the duplicate column in the export.",
        )


def _piece(body: bytes, names: list[str], dialect: Dialect, file_name: str) -> Piece:
    """Records are counted only when polars' parse leaves a doubt: a record with too many
    fields makes it fail, and one with too few reads like one whose last field is blank,
    so only a block with such a row (or a failure) is split into records and counted."""
    try:
        rows = _parse(body, names, dialect)
    except pl.exceptions.PolarsError:
        return _counted_piece(body, names, dialect, file_name, None)
    short = not dialect.pad_short_rows and len(names) > 1
    last = pl.col(names[-1])
    if short and rows.select((last.is_null() | (last == "")).any()).item():
        return _counted_piece(body, names, dialect, file_name, rows)
    return Piece(rows.with_row_index(ROW, offset=1), NO_BROKEN, rows.height)


def _counted_piece(
    body: bytes, names: list[str], dialect: Dialect, file_name: str, parsed: pl.DataFrame | None
) -> Piece:
    """Count every record's fields; the good ones are parsed again only when some were
    broken (else `parsed`, polars' own reading of the block, stands)."""
    records = _records(body, dialect)
    counted = pl.DataFrame({_TEXT: records}).with_columns(
        _field_count(dialect).alias("_fields"),
        (pl.col(_TEXT).str.strip_chars_end("\r") == "").alias("_blank"),
    )
    expected = len(names)
    wrong = pl.col("_fields") > expected
    if not dialect.pad_short_rows:
        wrong = wrong | (pl.col("_fields") < expected)
    counted = counted.with_columns(
        (wrong & ~pl.col("_blank")).alias("_broken"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(ROW),
    )
    bad = counted.filter("_broken")
    good = counted.filter(~pl.col("_broken"))
    if bad.is_empty() and parsed is not None:
        rows = parsed
    else:
        text = good.select(pl.col(_TEXT).str.join(dialect.eol)).item() + dialect.eol
        rows = _parse(text.encode() if good.height else b"", names, dialect)
    if rows.height != good.height:
        raise UnreadableFile(
            file_name,
            f"its records cannot be told apart ({good.height} counted, {rows.height} parsed)",
            "Check the quoting (a quote inside an unquoted field?), or set `quote` in the "
            "source profile.",
        )
    broken = bad.select(
        ROW,
        pl.col(_TEXT).str.strip_chars_end("\r").alias(LINE),
        pl.format("expected {} fields, got {}", pl.lit(expected), "_fields").alias(PROBLEM),
    )
    return Piece(rows.with_columns(good[ROW]), broken, records.len())


def _records(block: bytes, dialect: Dialect) -> pl.Series:
    """The block's records as text, without their end of line: lines joined back where a
    quoted field spans them (an odd number of quotes so far)."""
    lines = pl.Series([block], dtype=pl.Binary).cast(pl.String).str.split(dialect.eol).explode()
    if block.endswith(dialect.eol.encode()):
        lines = lines.head(-1)
    frame = pl.DataFrame({_TEXT: lines})
    if dialect.quote is not None:
        inside = pl.col(_TEXT).str.count_matches(dialect.quote, literal=True).cum_sum() % 2 == 1
        if frame.select(inside.any()).item():
            record = (~inside).cast(pl.UInt32).cum_sum().shift(1, fill_value=0)
            frame = frame.group_by(record.alias("_record"), maintain_order=True).agg(
                pl.col(_TEXT).str.join(dialect.eol)
            )
    return frame[_TEXT]


def _field_count(dialect: Dialect) -> pl.Expr:
    """Separators outside quoted parts, plus one (a quoted part, doubled quotes inside it
    included, is removed first: its separators are text)."""
    text = pl.col(_TEXT)
    if dialect.quote is not None:
        quote = re.escape(dialect.quote)
        text = text.str.replace_all(f"{quote}[^{quote}]*{quote}", "")
    return text.str.count_matches(dialect.separator, literal=True) + 1


def _parse(data: bytes, names: list[str] | None, dialect: Dialect) -> pl.DataFrame:
    """Text columns of records that have their header's field count (or pad to it)."""
    return pl.read_csv(
        data,
        has_header=False,
        schema=dict.fromkeys(names, pl.String) if names is not None else None,
        infer_schema=False,
        separator=dialect.separator,
        quote_char=dialect.quote,
        eol_char=dialect.eol,
        truncate_ragged_lines=False,
        missing_columns="insert",
        raise_if_empty=False,
        empty_string_is_null=False,
    )


def blocks(
    path: Path, size: int | None, eol: bytes, quote: bytes | None, file_name: str
) -> Iterator[bytes]:
    """The file in blocks of about `size` bytes, each ending at a record boundary: the
    last end of line outside quotes (an even number of quote characters before it, as
    doubled quotes count twice). None: the whole file as one block. A quote that never
    closes would make the rest of the file one record: that fails once it spans
    MAX_RECORD_BLOCKS blocks (and 1 MB), instead of growing without bound. A UTF-8 byte
    order mark at the start is skipped."""
    with path.open("rb") as source:
        if source.read(len(UTF8_BOM)) != UTF8_BOM:
            source.seek(0)
        if size is None or path.stat().st_size <= size:
            yield source.read()
            return
        carry = b""
        while block := source.read(size):
            data = carry + block
            cut = _record_end(data, eol, quote)
            carry = data[cut:]
            if cut:
                yield data[:cut]
            elif len(carry) > max(MAX_RECORD_BLOCKS * size, 1 << 20):
                raise UnreadableFile(
                    file_name,
                    f"a record runs over {len(carry):,} bytes without ending (a quote that "
                    "never closes?)",
                    "Check the quoting (a stray quote character), or set `quote_char` in the "
                    "source profile.",
                )
        if carry.strip():
            yield carry


def _record_end(data: bytes, eol: bytes, quote: bytes | None) -> int:
    """Index just after the last end of line that ends a record; 0 if none does yet.
    Walks back from the end counting the quotes after each candidate, so every byte is
    counted once whatever the number of candidates."""
    position = data.rfind(eol)
    if quote is None:
        return position + 1
    total = data.count(quote)
    after, end = 0, len(data)
    while position >= 0:
        after += data.count(quote, position, end)
        if (total - after) % 2 == 0:
            return position + 1
        end = position
        position = data.rfind(eol, 0, position)
    return 0
