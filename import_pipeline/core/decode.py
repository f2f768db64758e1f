"""A landed file's bytes made readable: gzip or zstd inflated, the format sniffed, a legacy
encoding transcoded to UTF-8, each streamed in blocks into a work folder, so a file larger
than memory never sits whole in it; a byte that is not UTF-8 named by its line."""

import codecs
import gzip
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import zstandard

from import_pipeline.core.csv_records import UTF8_BOM
from import_pipeline.core.errors import UndecodableFile, UnreadableFile
from import_pipeline.core.formats import (
    GZIP_MAGIC,
    PARQUET_MAGIC,
    ZSTD_MAGIC,
    FileFormat,
    format_from_name,
)
from import_pipeline.core.workbook import is_workbook

BLOCK = 8 << 20
"""Bytes per read when a file is inflated, transcoded or checked: bounds memory."""

_UTF8 = ("utf-8", "utf8", "utf-8-sig")


def inflated(path: Path, file_name: str, workdir: Path) -> Path:
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


def first_bytes(path: Path) -> bytes:
    """The start of the file: enough to sniff its format and to tell an empty one."""
    with path.open("rb") as source:
        return source.read(1 << 16)


def sniff_format(head: bytes, file_name: str) -> FileFormat:
    """A workbook by its container's magic (whatever its name says), else the name's
    format, else Parquet by magic, NDJSON by a leading `{`, else CSV."""
    if is_workbook(head):
        return FileFormat.EXCEL
    named = format_from_name(file_name)
    if named is not None:
        return named
    if head.startswith(PARQUET_MAGIC):
        return FileFormat.PARQUET
    if head.lstrip(UTF8_BOM + b" \t\r\n").startswith(b"{"):
        return FileFormat.NDJSON
    return FileFormat.CSV


def as_utf8(path: Path, file_name: str, encoding: str, workdir: Path) -> Path:
    """polars reads only UTF-8: transcode a declared legacy encoding (streaming, into
    `workdir`). UTF-8 itself is checked by polars as it reads, and its BOM is skipped
    where the file is read (`blocks`) rather than copied away with the whole file."""
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


def not_utf8(path: Path, file_name: str) -> UndecodableFile:
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
