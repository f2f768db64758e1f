"""A landed file -> polars frames of text columns plus their source row number.

Files are read from disk in blocks of bytes cut at record boundaries (Parquet: in slices
of rows), so a file larger than memory stages in bounded memory: compressed files are
first inflated to a work folder (a stream, never whole in memory). Everything is read as
text: casting is the entity spec's job, so one bad value becomes a reject instead of
failing the file. File-level problems raise a named `ImportFileError`.
"""

import codecs
import gzip
import io
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

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
BLOCK = 8 << 20
"""Bytes per read when a file is inflated, transcoded or checked: bounds memory."""

MAX_RECORD_BLOCKS = 8
"""Blocks one record may span before the file is refused (an unclosed quote)."""

PARQUET_FIRST_ROWS = 1_000
"""Rows of a Parquet file's first slice when it is read in batches: they measure how wide
its rows are in memory, and each later slice takes as many rows as fit `batch_bytes`."""

_UTF8 = ("utf-8", "utf8", "utf-8-sig")


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file's bytes; a source profile sets these, defaults suit canonical files."""

    format: FileFormat | None = None
    delimiter: str | None = None
    quote_char: str | None = '"'
    encoding: str = "utf-8"
    has_header: bool = True
    skip_rows: int = 0


def read_frames(
    path: Path,
    file_name: str,
    workdir: Path,
    options: ReadOptions | None = None,
    batch_bytes: int | None = None,
) -> Iterator[pl.DataFrame]:
    """The file's rows as text frames of about `batch_bytes` of text each (None: one
    frame), numbered by `_row` across the whole file. `workdir` holds inflated or
    transcoded copies. Raises a named error for an empty, undecodable or unparseable file.

    CSV and NDJSON are cut into blocks at record boundaries and each block is parsed on
    its own: polars' own batched scan reads ahead of a slow consumer (measured: ~10
    batches buffered), which defeats the point of batches."""
    options = options or ReadOptions()
    path = _inflated(path, file_name, workdir)
    head = _head(path)
    if not head.strip() and path.stat().st_size <= len(head):
        raise EmptyFile(file_name, "the file is empty", "Drop a file with a header and rows.")
    file_format = options.format or _sniff_format(head, file_name)
    if file_format is FileFormat.PARQUET:
        frames = _parquet_frames(path, batch_bytes)
    else:
        path = _as_utf8(path, file_name, options.encoding, workdir)
        if file_format is FileFormat.NDJSON:
            frames = _ndjson_frames(path, file_name, batch_bytes)
        else:
            frames = _csv_frames(path, head, file_name, options, batch_bytes)
    rows = 0
    for frame in _named_errors(frames, path, file_name, file_format):
        if frame.height == 0:
            continue
        if file_format is not FileFormat.CSV:
            frame = _all_text(frame)
        numbered = frame.with_row_index(ROW, offset=rows + 1)
        rows += frame.height
        yield numbered.with_columns(pl.col(ROW).cast(pl.Int64))
    if rows == 0:
        raise EmptyFile(
            file_name, "the file has a header but no data rows", "Drop a file with rows."
        )


def parse_bytes(data: bytes, file_name: str, options: ReadOptions | None = None) -> pl.DataFrame:
    """A whole small file already in memory (a test, a preview) as one frame."""
    with tempfile.TemporaryDirectory(prefix="parse-") as work:
        path = Path(work) / "landed"
        path.write_bytes(data)
        return pl.concat(read_frames(path, file_name, Path(work), options))


def _inflated(path: Path, file_name: str, workdir: Path) -> Path:
    """Undo gzip or zstd (recognised by magic bytes, so a misnamed file still reads) into
    a plain copy in `workdir`, streaming; an uncompressed file is used where it is."""
    with path.open("rb") as source:
        magic = source.read(4)
    opener: Callable[[BinaryIO], BinaryIO]
    if magic.startswith(GZIP_MAGIC):
        opener = _gunzip
    elif magic.startswith(ZSTD_MAGIC):
        opener = zstandard.ZstdDecompressor().stream_reader
    else:
        return path
    target = workdir / f"{uuid.uuid4().hex}.inflated"
    try:
        with path.open("rb") as raw, opener(raw) as stream, target.open("wb") as out:
            shutil.copyfileobj(stream, out, BLOCK)
    except (OSError, EOFError, zstandard.ZstdError) as exc:
        raise UnreadableFile(
            file_name,
            f"the compressed stream is damaged or cut off ({exc})",
            "Upload the file again; check that the upload finished.",
        ) from exc
    return target


def _gunzip(raw: BinaryIO) -> BinaryIO:
    return gzip.GzipFile(fileobj=raw)


def _head(path: Path) -> bytes:
    with path.open("rb") as source:
        return source.read(1 << 16)


def _sniff_format(head: bytes, file_name: str) -> FileFormat:
    """The name's format, else Parquet by magic, NDJSON by a leading `{`, else CSV."""
    named = format_from_name(file_name)
    if named is not None:
        return named
    if head.startswith(PARQUET_MAGIC):
        return FileFormat.PARQUET
    if head.lstrip(UTF8_BOM + b" \t\r\n").startswith(b"{"):
        return FileFormat.NDJSON
    return FileFormat.CSV


def _as_utf8(path: Path, file_name: str, encoding: str, workdir: Path) -> Path:
    """polars reads only UTF-8: transcode a declared legacy encoding (streaming, into
    `workdir`). UTF-8 itself is checked by polars as it reads, and its BOM is skipped
    where the file is read (`_blocks`) rather than copied away with the whole file."""
    codec = encoding.lower().replace("_", "-")
    if codec in _UTF8:
        return path
    target = workdir / f"{uuid.uuid4().hex}.utf8"
    try:
        decoder = codecs.getincrementaldecoder(codec)()
        with path.open("rb") as source, target.open("wb") as out:
            first = True
            while block := source.read(BLOCK):
                text = decoder.decode(block)
                out.write(text.removeprefix("\ufeff").encode() if first else text.encode())
                first = False
            out.write(decoder.decode(b"", final=True).encode())
    except (UnicodeDecodeError, LookupError) as exc:
        raise UndecodableFile(
            file_name,
            f"it cannot be decoded as {encoding} ({exc})",
            "Fix the `encoding:` of its source profile.",
        ) from exc
    return target


def _not_utf8(path: Path, file_name: str) -> UndecodableFile:
    """Find the first byte that is not UTF-8 (a second pass, only once reading failed)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 1
    with path.open("rb") as source:
        while block := source.read(BLOCK):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                line = lines + exc.object.count(b"\n", 0, exc.start)
                return UndecodableFile(
                    file_name,
                    f"it is not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} near line {line})",
                    "Re-export it as UTF-8, or name its encoding in the source profile "
                    "(e.g. `encoding: cp1252`).",
                )
            lines += block.count(b"\n")
    return UndecodableFile(
        file_name, "it is not valid UTF-8", "Re-export it as UTF-8, or name its encoding."
    )


def _csv_frames(
    path: Path, head: bytes, file_name: str, options: ReadOptions, batch_bytes: int | None
) -> Iterator[pl.DataFrame]:
    # NOTE: polars does not recognise CR-only line endings (old Mac exports): it reads a
    # header and zero rows without an error, so look for them ourselves.
    eol = "\r" if b"\n" not in head and b"\r" in head else "\n"
    quote = options.quote_char
    common = {
        "separator": options.delimiter or default_delimiter(file_name),
        "quote_char": quote,
        "eol_char": eol,
        "truncate_ragged_lines": True,
        "raise_if_empty": False,
        "empty_string_is_null": False,
    }
    names: list[str] | None = None
    quoted = quote.encode() if quote else None
    for block in _blocks(path, batch_bytes, eol.encode(), quoted, file_name):
        if names is None:
            first = pl.read_csv(
                block,
                has_header=options.has_header,
                skip_rows=options.skip_rows,
                infer_schema=False,
                **common,
            )
            names = [n.strip().lstrip("\ufeff") for n in first.columns]
            schema = dict.fromkeys(names, pl.String)
            yield first.rename(dict(zip(first.columns, names, strict=True)))
        else:
            yield pl.read_csv(
                block, has_header=False, schema=schema, extra_columns="ignore", **common
            )


def _ndjson_frames(path: Path, file_name: str, batch_bytes: int | None) -> Iterator[pl.DataFrame]:
    for block in _blocks(path, batch_bytes, b"\n", None, file_name):
        yield pl.read_ndjson(io.BytesIO(block), infer_schema_length=None)


def _parquet_frames(path: Path, batch_bytes: int | None) -> Iterator[pl.DataFrame]:
    """Slices of about `batch_bytes` in memory, not of a fixed row count: a fixed count
    bounds nothing when rows are wide (100k rows of 5 KB are 500 MB). A slice still
    decodes whole pages of its row groups, so a file written with huge row groups costs
    what its row groups do."""
    if batch_bytes is None:
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
        rows = max(1, batch_bytes * frame.height // max(frame.estimated_size(), 1))


def _blocks(
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


def _named_errors(
    frames: Iterator[pl.DataFrame], path: Path, file_name: str, file_format: FileFormat
) -> Iterator[pl.DataFrame]:
    """The frames, with polars' parse errors turned into named file errors."""
    try:
        yield from frames
    except pl.exceptions.PolarsError as exc:
        if "utf-8" in str(exc).lower():
            raise _not_utf8(path, file_name) from exc
        raise _unparseable(file_name, file_format, exc) from exc


def _unparseable(file_name: str, file_format: FileFormat, exc: Exception) -> UnreadableFile:
    if file_format is FileFormat.PARQUET:
        problem, fix = "Parquet", "Upload the file again; check that the upload finished."
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
