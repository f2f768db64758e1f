"""Bytes of a landed file -> a polars frame of text columns plus its source row number.

Everything is read as text: casting is the entity spec's job, so one bad value becomes a
reject instead of failing the file. File-level problems raise a named `ImportFileError`.
"""

import gzip
import io
from dataclasses import dataclass

import polars as pl
import zstandard

from import_pipeline.core.errors import EmptyFile, UndecodableFile, UnreadableFile
from import_pipeline.core.formats import (
    GZIP_MAGIC,
    PARQUET_MAGIC,
    ZSTD_MAGIC,
    FileFormat,
    default_delimiter,
    format_from_name,
)

ROW = "_row"
"""Source row number: 1 for the first data record (header not counted)."""

UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file's bytes; a source profile sets these, defaults suit canonical files."""

    format: FileFormat | None = None
    delimiter: str | None = None
    quote_char: str | None = '"'
    encoding: str = "utf-8"
    has_header: bool = True
    skip_rows: int = 0


def decompress(data: bytes, file_name: str) -> bytes:
    """Undo gzip or zstd, recognised by magic bytes so a misnamed file still reads."""
    try:
        if data.startswith(GZIP_MAGIC):
            return gzip.decompress(data)
        if data.startswith(ZSTD_MAGIC):
            return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    except (OSError, EOFError, zstandard.ZstdError) as exc:
        raise UnreadableFile(
            file_name,
            f"the compressed stream is damaged or cut off ({exc})",
            "Upload the file again; check that the upload finished.",
        ) from exc
    return data


def parse_bytes(data: bytes, file_name: str, options: ReadOptions | None = None) -> pl.DataFrame:
    """Parse a whole file (possibly compressed) into text columns plus `_row`."""
    options = options or ReadOptions()
    data = decompress(data, file_name)
    if not data.strip():
        raise EmptyFile(file_name, "the file is empty", "Drop a file with a header and rows.")
    file_format = options.format or _sniff_format(data, file_name)
    if file_format is FileFormat.PARQUET:
        frame = _read_parquet(data, file_name)
    else:
        text = _to_utf8(data, file_name, options.encoding)
        if file_format is FileFormat.NDJSON:
            frame = _read_ndjson(text, file_name)
        else:
            frame = _read_csv(text, file_name, options)
    if frame.height == 0:
        raise EmptyFile(
            file_name, "the file has a header but no data rows", "Drop a file with rows."
        )
    return frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


def _sniff_format(data: bytes, file_name: str) -> FileFormat:
    """The name's format, else Parquet by magic, NDJSON by a leading `{`, else CSV."""
    named = format_from_name(file_name)
    if named is not None:
        return named
    if data.startswith(PARQUET_MAGIC):
        return FileFormat.PARQUET
    if data.lstrip(UTF8_BOM + b" \t\r\n").startswith(b"{"):
        return FileFormat.NDJSON
    return FileFormat.CSV


def _to_utf8(data: bytes, file_name: str, encoding: str) -> bytes:
    """Check (or transcode to) UTF-8 and drop a BOM; polars only reads UTF-8."""
    codec = encoding.lower().replace("_", "-")
    if codec in ("utf-8", "utf8", "utf-8-sig"):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + data.count(b"\r", 0, exc.start) // 2 + 1
            raise UndecodableFile(
                file_name,
                f"it is not valid UTF-8 (byte 0x{data[exc.start]:02x} near line {line})",
                "Re-export it as UTF-8, or name its encoding in the source profile "
                "(e.g. `encoding: cp1252`).",
            ) from exc
    else:
        try:
            data = data.decode(codec).encode("utf-8")
        except (UnicodeDecodeError, LookupError) as exc:
            raise UndecodableFile(
                file_name,
                f"it cannot be decoded as {encoding} ({exc})",
                "Fix the `encoding:` of its source profile.",
            ) from exc
    return data.removeprefix(UTF8_BOM)


def _read_csv(data: bytes, file_name: str, options: ReadOptions) -> pl.DataFrame:
    # NOTE: polars does not recognise CR-only line endings (old Mac exports): it reads a
    # header and zero rows without an error, so look for them ourselves.
    eol = "\r" if b"\n" not in data and b"\r" in data else "\n"
    try:
        frame = pl.read_csv(
            data,
            has_header=options.has_header,
            skip_rows=options.skip_rows,
            separator=options.delimiter or default_delimiter(file_name),
            quote_char=options.quote_char,
            infer_schema=False,
            eol_char=eol,
            truncate_ragged_lines=True,
            raise_if_empty=False,
            empty_string_is_null=False,
        )
    except pl.exceptions.PolarsError as exc:
        raise UnreadableFile(
            file_name,
            f"it does not parse as CSV ({_first_line(exc)})",
            "Check the delimiter and quoting, or set them in the source profile.",
        ) from exc
    return frame.rename({name: name.strip().lstrip("\ufeff") for name in frame.columns})


def _read_ndjson(data: bytes, file_name: str) -> pl.DataFrame:
    try:
        frame = pl.read_ndjson(io.BytesIO(data), infer_schema_length=None)
    except pl.exceptions.PolarsError as exc:
        raise UnreadableFile(
            file_name,
            f"it does not parse as NDJSON, one JSON object per line ({_first_line(exc)})",
            "Fix the broken line, or name the file .csv if it is CSV.",
        ) from exc
    return _all_text(frame)


def _read_parquet(data: bytes, file_name: str) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except pl.exceptions.PolarsError as exc:
        raise UnreadableFile(
            file_name,
            f"it does not parse as Parquet ({_first_line(exc)})",
            "Upload the file again; check that the upload finished.",
        ) from exc
    return _all_text(frame)


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
