"""Recognising a landed file's container: compression by magic bytes, format by name."""

from enum import StrEnum

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
PARQUET_MAGIC = b"PAR1"
ZIP_MAGIC = b"PK\x03\x04"
"""xlsx, xlsm, xlsb and ods are zip archives."""
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""xls (BIFF) is an OLE compound file."""

_COMPRESSED_SUFFIXES = (".gz", ".gzip", ".zst", ".zstd")


class FileFormat(StrEnum):
    CSV = "csv"
    NDJSON = "ndjson"
    PARQUET = "parquet"
    EXCEL = "excel"


_SUFFIX_FORMATS = {
    ".csv": FileFormat.CSV,
    ".tsv": FileFormat.CSV,
    ".txt": FileFormat.CSV,
    ".ndjson": FileFormat.NDJSON,
    ".jsonl": FileFormat.NDJSON,
    ".json": FileFormat.NDJSON,
    ".parquet": FileFormat.PARQUET,
    ".pq": FileFormat.PARQUET,
    ".xlsx": FileFormat.EXCEL,
    ".xlsm": FileFormat.EXCEL,
    ".xlsb": FileFormat.EXCEL,
    ".xls": FileFormat.EXCEL,
    ".ods": FileFormat.EXCEL,
}


def strip_compression_suffix(file_name: str) -> str:
    """`orders.csv.gz` -> `orders.csv`: the name that tells the format."""
    lowered = file_name.lower()
    for suffix in _COMPRESSED_SUFFIXES:
        if lowered.endswith(suffix):
            return file_name[: -len(suffix)]
    return file_name


def format_from_name(file_name: str) -> FileFormat | None:
    """The format a file's name declares, ignoring a compression suffix."""
    plain = strip_compression_suffix(file_name).lower()
    for suffix, file_format in _SUFFIX_FORMATS.items():
        if plain.endswith(suffix):
            return file_format
    return None


def default_delimiter(file_name: str) -> str:
    """Tab for `.tsv`, comma for everything else."""
    return "\t" if strip_compression_suffix(file_name).lower().endswith(".tsv") else ","
