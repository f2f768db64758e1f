"""A landed file -> polars frames of text columns plus their source row number.

Files are read from disk in blocks of bytes cut at record boundaries (Parquet: in slices
of rows; a workbook's sheet is parsed whole, then sliced: `core/workbook.py`), so a file
larger than memory stages in bounded memory: compressed files are first inflated to a work
folder (a stream, never whole in memory). Everything is read as text: casting is the
entity spec's job, so one bad value becomes a reject instead of failing the file; a CSV
record with the wrong number of fields comes out beside the rows, as a broken record
(`core/csv_records.py`). File-level problems raise a named `ImportFileError`.
"""

import io
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import polars as pl

from import_pipeline.core.columns import ROW, refuse_reserved
from import_pipeline.core.csv_records import (
    NO_BROKEN,
    Dialect,
    Piece,
    blocks,
    csv_pieces,
)
from import_pipeline.core.decode import as_utf8, first_bytes, inflated, not_utf8, sniff_format
from import_pipeline.core.errors import EmptyFile, UnreadableFile
from import_pipeline.core.formats import (
    FileFormat,
    default_delimiter,
)
from import_pipeline.core.workbook import SheetChoice, workbook_frames

PARQUET_FIRST_ROWS = 1_000
"""Rows of a Parquet file's first slice when it is read in batches: they measure how wide
its rows are in memory, and each later slice takes as many rows as fit `block_bytes`."""


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file's bytes; a source profile sets these, defaults suit canonical files.
    `pad_short_rows`: a CSV record with fewer fields than the header is read with the missing
    ones blank (for sources that drop trailing empty fields) instead of being rejected.
    `sheet` and `header_row` (from 1) say where a workbook's table is."""

    format: FileFormat | None = None
    delimiter: str | None = None
    quote_char: str | None = '"'
    encoding: str = "utf-8"
    has_header: bool = True
    skip_rows: int = 0
    pad_short_rows: bool = False
    sheet: str | None = None
    header_row: int = 1


class Block(NamedTuple):
    """Rows read together: `rows` (text columns and `_row`) and the CSV records that could
    not be split into the header's fields, `broken` (`_row`, `_line`, `_problem`)."""

    rows: pl.DataFrame
    broken: pl.DataFrame


def read_blocks(
    path: Path,
    file_name: str,
    workdir: Path,
    options: ReadOptions | None = None,
    block_bytes: int | None = None,
) -> Iterator[Block]:
    """The file's rows as text frames of about `block_bytes` of text each (None: one
    block), numbered by `_row` across the whole file. `workdir` holds inflated or
    transcoded copies. Raises a named error for an empty, undecodable or unparseable file.

    CSV and NDJSON are cut into blocks at record boundaries and each block is parsed on
    its own: polars' own batched scan reads ahead of a slow consumer (measured: ~10
    batches buffered), which defeats the point of batches."""
    options = options or ReadOptions()
    path = inflated(path, file_name, workdir)
    head = first_bytes(path)
    if not head.strip() and path.stat().st_size <= len(head):
        raise EmptyFile(file_name, "the file is empty", "Drop a file with a header and rows.")
    file_format = options.format or sniff_format(head, file_name)
    if file_format is FileFormat.PARQUET:
        pieces = _whole(_parquet_frames(path, block_bytes), file_name)
    elif file_format is FileFormat.EXCEL:
        choice = SheetChoice(options.sheet, options.header_row, options.has_header)
        pieces = _whole(workbook_frames(path, file_name, choice, block_bytes), file_name)
    else:
        path = as_utf8(path, file_name, options.encoding, workdir)
        if file_format is FileFormat.NDJSON:
            pieces = _whole(_ndjson_frames(path, file_name, block_bytes), file_name)
        else:
            pieces = _csv_pieces(path, head, file_name, options, block_bytes)
    rows = 0
    for piece in _named_errors(pieces, path, file_name, file_format):
        if piece.records == 0:
            continue
        numbered = pl.col(ROW).cast(pl.Int64) + rows
        yield Block(
            piece.rows.select(numbered, pl.exclude(ROW)), piece.broken.with_columns(numbered)
        )
        rows += piece.records
    if rows == 0:
        raise EmptyFile(
            file_name, "the file has a header but no data rows", "Drop a file with rows."
        )


def _whole(frames: Iterator[pl.DataFrame], file_name: str) -> Iterator[Piece]:
    """Frames of a format whose records always parse whole (NDJSON, Parquet), as text."""
    for frame in frames:
        refuse_reserved(frame.columns, file_name)
        rows = _all_text(frame).with_row_index(ROW, offset=1)
        yield Piece(rows, NO_BROKEN, frame.height)


def read_bytes(data: bytes, file_name: str, options: ReadOptions | None = None) -> Block:
    """A whole small file already in memory (a test, a preview) as one block."""
    with tempfile.TemporaryDirectory(prefix="parse-") as work:
        path = Path(work) / "landed"
        path.write_bytes(data)
        read = list(read_blocks(path, file_name, Path(work), options))
        return Block(pl.concat(b.rows for b in read), pl.concat(b.broken for b in read))


def parse_bytes(data: bytes, file_name: str, options: ReadOptions | None = None) -> pl.DataFrame:
    """`read_bytes`' rows alone: for files whose records all have the header's fields."""
    return read_bytes(data, file_name, options).rows


def _csv_pieces(
    path: Path, head: bytes, file_name: str, options: ReadOptions, block_bytes: int | None
) -> Iterator[Piece]:
    # NOTE: polars does not recognise CR-only line endings (old Mac exports): it reads a
    # header and zero rows without an error, so look for them ourselves.
    eol = "\r" if b"\n" not in head and b"\r" in head else "\n"
    dialect = Dialect(
        separator=options.delimiter or default_delimiter(file_name),
        quote=options.quote_char,
        eol=eol,
        has_header=options.has_header,
        skip_rows=options.skip_rows,
        pad_short_rows=options.pad_short_rows,
    )
    quote = options.quote_char.encode() if options.quote_char else None
    yield from csv_pieces(
        blocks(path, block_bytes, eol.encode(), quote, file_name), dialect, file_name
    )


def _ndjson_frames(path: Path, file_name: str, block_bytes: int | None) -> Iterator[pl.DataFrame]:
    """Each block parsed by polars; when one does not parse, its lines are parsed one by
    one (only then) to name the first broken line."""
    lines = 0
    for block in blocks(path, block_bytes, b"\n", None, file_name):
        try:
            yield pl.read_ndjson(io.BytesIO(block), infer_schema_length=None)
        except pl.exceptions.PolarsError as exc:
            if "utf" in str(exc).lower():
                raise
            broken = _broken_json_line(block, lines, file_name)
            if broken is None:
                raise
            raise broken from exc
        lines += block.count(b"\n")


def _broken_json_line(block: bytes, lines_before: int, file_name: str) -> UnreadableFile | None:
    for number, line in enumerate(block.split(b"\n"), start=lines_before + 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            problem = f"line {number} is not JSON ({exc})"
        else:
            if isinstance(value, dict):
                continue
            problem = f"line {number} holds a JSON {type(value).__name__}, not an object"
        return UnreadableFile(
            file_name,
            problem,
            "Fix that line: NDJSON is one JSON object per line (or name the file .csv if it is "
            "CSV).",
        )
    return None


def _parquet_frames(path: Path, block_bytes: int | None) -> Iterator[pl.DataFrame]:
    """Slices of about `block_bytes` in memory, not of a fixed row count: a fixed count
    bounds nothing when rows are wide (100k rows of 5 KB are 500 MB). A slice still
    decodes whole pages of its row groups, so a file written with huge row groups costs
    what its row groups do."""
    if block_bytes is None:
        yield pl.read_parquet(path)
        return
    scan = pl.scan_parquet(path)
    total = scan.select(pl.len()).collect().item()
    offset, rows = 0, PARQUET_FIRST_ROWS
    while offset < total:
        frame = scan.slice(offset, rows).collect()
        if frame.height == 0:
            return
        yield frame
        offset += frame.height
        rows = max(1, block_bytes * frame.height // max(frame.estimated_size(), 1))


def _named_errors(
    pieces: Iterator[Piece], path: Path, file_name: str, file_format: FileFormat
) -> Iterator[Piece]:
    """The pieces, with polars' parse errors turned into named file errors."""
    try:
        yield from pieces
    except pl.exceptions.PolarsError as exc:
        if "utf-8" in str(exc).lower() or "utf8" in str(exc).lower():
            raise not_utf8(path, file_name) from exc
        raise _unparseable(file_name, file_format, exc) from exc


def _unparseable(file_name: str, file_format: FileFormat, exc: Exception) -> UnreadableFile:
    if file_format is FileFormat.PARQUET:
        problem, fix = "Parquet", "Upload the file again; check that the upload finished."
    elif file_format is FileFormat.EXCEL:
        problem, fix = "a workbook", "Save it again as .xlsx, or export the sheet as CSV."
    elif file_format is FileFormat.NDJSON:
        problem = "NDJSON, one JSON object per line"
        fix = "Fix the broken line, or name the file .csv if it is CSV."
    else:
        problem = "CSV"
        fix = "Check the delimiter and quoting, or set them in the source profile."
    return UnreadableFile(file_name, f"it does not parse as {problem} ({_first_line(exc)})", fix)


def _all_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Typed columns (NDJSON, Parquet) back to text, so one casting path serves all formats."""
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype == pl.String:
            exprs.append(col)
        elif isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            exprs.append(col.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.f+00:00"))
        elif dtype.is_nested():
            encoded = col.struct.json_encode() if dtype == pl.Struct else list_as_json(col)
            exprs.append(pl.when(col.is_not_null()).then(encoded).alias(name))
        else:
            exprs.append(col.cast(pl.String))
    return frame.select(exprs)


def list_as_json(col: pl.Expr) -> pl.Expr:
    """A list column as JSON array text (polars encodes only structs: wrap, encode, unwrap)."""
    return pl.struct(col.alias("v")).struct.json_encode().str.slice(5).str.head(-1)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
