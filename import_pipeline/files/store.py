"""One storage interface for landing zones and staging areas, whatever holds the files.

A `Store` is a local folder (`files/local.py`) or an S3 prefix (`files/s3.py`); everything
above `files/` asks a store and never looks at a URL's scheme again.
"""

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlparse

import polars as pl

from import_pipeline.core.errors import FileChanged
from import_pipeline.core.landing import (
    MANIFEST,
    MARKERS,
    FileRecord,
    Window,
    folder_members,
    folder_version,
)
from import_pipeline.core.manifest import Manifest, parse_manifest
from import_pipeline.core.stage import LandedFile
from import_pipeline.files.local import LocalStore, path_of
from import_pipeline.files.s3 import S3Location, S3Store


class UnsupportedLocation(ValueError):
    """A landing or staging URL names a storage the pipeline cannot reach (e.g. `gs://`)."""

    def __init__(self, setting: str, url: str) -> None:
        scheme = urlparse(url).scheme
        super().__init__(
            f"{setting}={url}: `{scheme}://` is not a supported storage. Use a local folder "
            "(a path or file:///path) or s3://bucket/prefix (AWS, MinIO or any S3-compatible "
            "store, endpoint from AWS_ENDPOINT_URL)."
        )


class Store(Protocol):
    """Files addressed by keys relative to a root (`a/b.csv`), in key order."""

    writes_are_atomic: bool
    """True when a listed file is always complete (S3); a local file may be half-written."""

    def uri(self, key: str) -> str:
        """The identity of a key (file:// or s3://): ledger rows and partition keys use it."""
        ...

    def key_of(self, uri: str) -> str:
        """The key of a URI this store handed out (a folder's key keeps its trailing `/`)."""
        ...

    def path(self, key: str) -> str:
        """Where a reader opens the key: a local path, or an s3:// URI polars reads."""
        ...

    def list(self, under: str = "") -> list[FileRecord]:
        """Every listed file below the root (or its folder `under`), without a bound."""
        ...

    def list_window(self, after: str, limit: int) -> Window:
        """At most `limit` keys after the key `after` ("" = from the start), in key order."""
        ...

    def fetch(self, key: str, version: str, workdir: Path) -> Path | None:
        """A local path holding this version of the file, None if it changed or is gone."""
        ...

    def version(self, key: str) -> str | None:
        """The file's version now, None when it is not there."""
        ...

    def read(self, key: str, version: str) -> bytes | None:
        """The bytes of this version of a small file, None if it changed or is gone."""
        ...

    def write_bytes(self, key: str, data: bytes) -> str: ...

    def write_parquet(self, frame: pl.DataFrame, key: str, row_group: int) -> str: ...

    def put_file(self, source: Path, key: str) -> str:
        """Copy a finished local file into the store; a listing never shows it half-written."""
        ...

    def clear(self, under: str) -> None:
        """Remove every file below the folder `under`."""
        ...

    def scan_parquet(self, under: str) -> pl.LazyFrame:
        """Every Parquet file below the folder `under`, in key order, as one frame."""
        ...

    def link(self, key: str, expires_seconds: int) -> str | None:
        """A download link to the key that needs no credentials (S3: presigned), or None
        where the path itself is the link (a local folder)."""
        ...

    def move(self, key: str, version: str, to_key: str) -> bool:
        """Move the file if it still has `version` (copy, then delete); True when it is at
        `to_key` now, moved by this call or an earlier one, False when it changed since."""
        ...

    def drop_folder_if_empty(self, folder: str) -> None:
        """Remove `folder` (a key ending in `/`) once nothing is left in it; S3 has no
        folders to leave behind."""
        ...


def open_store(
    setting: str,
    url: str,
    s3_client: Callable[[], Any],
    s3_credentials: Callable[[], dict[str, str]],
) -> Store:
    """The store a configured URL names; an unknown scheme is refused by name rather than
    listed as an empty folder. The S3 client is built on first use, so a local deployment
    never imports boto3 or dagster-aws."""
    scheme = urlparse(url).scheme
    if scheme == "s3":
        return S3Store(S3Location.parse(url), s3_client, s3_credentials)
    if scheme in ("", "file"):
        return LocalStore(path_of(url) if scheme else Path(url))
    raise UnsupportedLocation(setting, url)


def fetch_batch(
    store: Store,
    uri: str,
    version: str,
    name: str,
    workdir: Path,
    landed_key: str | None = None,
) -> tuple[list[LandedFile], Manifest]:
    """Every file of a landed batch as a local path (an S3 object is streamed into
    `workdir`) and its manifest, refusing a batch any file of which changed since it
    landed: that version is a batch of its own, loaded separately. `landed_key`: the
    folder the batch landed as, when `uri` is a folder moved whole since, whose version
    is then checked with its files' keys as they landed."""
    if not uri.endswith("/"):
        path = _fetched(store, store.key_of(uri), version, name, workdir)
        return [LandedFile(name, path)], Manifest()
    folder = store.key_of(uri)
    records = store.list(folder)
    as_landed = records
    if landed_key is not None:
        as_landed = [replace(r, key=landed_key + r.key.removeprefix(folder)) for r in records]
    if folder_version(as_landed) != version:
        raise _changed(name)
    files = [
        LandedFile(m.key.removeprefix(folder), _fetched(store, m.key, m.version, name, workdir))
        for m in folder_members(records, folder)
    ]
    manifest = Manifest()
    for record in records:
        if record.key == folder + MANIFEST:
            data = store.read(record.key, record.version)
            if data is None:
                raise _changed(name)
            manifest = parse_manifest(data)
    return files, manifest


class Moved(NamedTuple):
    """Where a batch was moved to, and the version its copy has there (an S3 copy may
    carry another ETag than its source; a folder's version covers its keys there)."""

    uri: str
    version: str | None
    """None: the copy does not hold the batch whole (see `move_batch`)."""


def move_batch(store: Store, uri: str, version: str, to_key: str, resumed: bool) -> Moved | None:
    """Move a landed batch (a file, or a folder with its markers) to `to_key` (the same
    layout below another folder); where it is now, or None when it changed since it landed
    or is gone (a change is a batch of its own, left to load). A folder's markers move
    first, so a listing during the move never sees the rest as a marked batch. A copy is
    only vouched for (its version) when it holds the batch whole: a file that changed
    during the move, or files that arrived before a move cut short is `resumed`, stay
    where they are and leave the copy without a version, so a re-execution fails by name
    instead of loading part of the batch."""
    key = store.key_of(uri)
    if not key.endswith("/"):
        copied = store.version(to_key) if store.move(key, version, to_key) else None
        return Moved(store.uri(to_key), copied) if copied else None
    records = store.list(key)
    if resumed:
        moved = [replace(r, key=key + r.key.removeprefix(to_key)) for r in store.list(to_key)]
        if folder_version(records + moved) != version:
            return Moved(store.uri(to_key), None)
    elif folder_version(records) != version:
        return None
    whole = True
    for record in sorted(records, key=lambda r: r.key.removeprefix(key) not in MARKERS):
        whole &= store.move(record.key, record.version, to_key + record.key.removeprefix(key))
    store.drop_folder_if_empty(key)
    return Moved(store.uri(to_key), folder_version(store.list(to_key)) if whole else None)


def _fetched(store: Store, key: str, version: str, name: str, workdir: Path) -> Path:
    path = store.fetch(key, version, workdir)
    if path is None:
        raise _changed(name)
    return path


def _changed(name: str) -> FileChanged:
    return FileChanged(
        name,
        "a file of the batch was changed or removed after it landed",
        "Nothing to fix here: a changed file is loaded as a new batch of its own.",
    )
