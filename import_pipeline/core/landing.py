"""Landed files -> batches: which files are ready, and each batch's partition key.

Pure decisions over small file records, so the sensors only list and compare.
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from import_pipeline.core.formats import strip_compression_suffix

DEFAULT_TENANT = "default"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_IGNORED_PREFIXES = (".", "_", "~")
_IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp")


@dataclass(frozen=True)
class FileRecord:
    """A file in a landing zone: `uri` addresses it, `key` is its path below the root,
    `version` changes whenever its bytes may have (size + mtime, or the S3 ETag)."""

    uri: str
    key: str
    size: int
    modified: datetime
    version: str

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


def is_candidate(key: str) -> bool:
    """Hidden, underscore-prefixed (markers) and temp-upload files are never batches."""
    name = key.rsplit("/", 1)[-1]
    return (
        bool(name)
        and not name.startswith(_IGNORED_PREFIXES)
        and not name.lower().endswith(_IGNORED_SUFFIXES)
    )


def partition_key(record: FileRecord, tenant: str) -> str:
    """Short, UI-safe and deterministic from tenant, URI and version: the same bytes map to
    the same key (never loaded twice); a changed file maps to a new one."""
    digest = hashlib.sha1(f"{tenant}\n{record.uri}\n{record.version}".encode()).hexdigest()[:12]
    stem = _UNSAFE.sub("_", strip_compression_suffix(record.name)).strip("._-")[:48] or "batch"
    return f"{stem}-{digest}"


def settled(
    records: list[FileRecord], seen: dict[str, str], now: datetime, settle_seconds: float
) -> tuple[list[FileRecord], dict[str, str]]:
    """Split listed files into those ready to load and those possibly still being written.

    A file is ready when its version is the one seen on the previous tick, or when it has
    not been modified for `settle_seconds`. Returns the ready files and the new `seen`
    map (uri -> version) of the files still waiting, which is all the cursor keeps.
    """
    ready, waiting = [], {}
    for record in records:
        quiet = (now - record.modified).total_seconds() >= settle_seconds
        if quiet or seen.get(record.uri) == record.version:
            ready.append(record)
        else:
            waiting[record.uri] = record.version
    return ready, waiting
