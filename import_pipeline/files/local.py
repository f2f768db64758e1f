"""A landing zone or staging area in a local folder."""

import contextlib
import os
import shutil
from datetime import UTC, datetime
from os import stat_result
from pathlib import Path
from stat import S_ISREG
from urllib.parse import unquote, urlparse

import polars as pl

from import_pipeline.core.landing import FileRecord, Window, is_listed


def list_folder(root: Path, under: str = "") -> list[FileRecord]:
    """Every listed file below `root` (or below its sub-folder `under`), sorted by key;
    keys are relative to `root`. A missing folder lists nothing."""
    folder = root / under
    if not folder.is_dir():
        return []
    resolved = root.resolve()
    records = []
    for path in folder.rglob("*"):
        key = path.relative_to(root).as_posix()
        if not is_listed(key, under) or not _stays_home(path, key, resolved):
            continue
        stat = path.stat()
        if S_ISREG(stat.st_mode):
            records.append(
                FileRecord(
                    uri=(resolved / key).as_uri(),
                    key=key,
                    size=stat.st_size,
                    modified=datetime.fromtimestamp(stat.st_mtime, UTC),
                    version=_version(stat),
                )
            )
    return sorted(records, key=lambda r: r.key)


def _stays_home(path: Path, key: str, resolved_root: Path) -> bool:
    """Whether `path` may be read as the landed file `key`: a symlink only when it
    resolves inside the root, into the top-level folder its key is in (a tenant's folder
    or a folder batch) or to the top for a top-level key. So a link never reads a file
    outside the landing zone, or another tenant's."""
    try:
        target = path.resolve(strict=True).relative_to(resolved_root)
    except (OSError, RuntimeError, ValueError):
        return False
    parts = key.split("/")
    return target.parts[0] == parts[0] if len(parts) > 1 else len(target.parts) == 1


class LocalStore:
    """A folder on a local (or mounted) disk. Its files may be caught half-written, so the
    landing sensor lets them settle; Parquet is lz4 here, where it writes and reads back
    faster than zstd at the cost of bigger files (bench/README.md)."""

    writes_are_atomic = False

    def __init__(self, root: Path) -> None:
        self.root = root

    def uri(self, key: str) -> str:
        return uri_of(self.root, key)

    def key_of(self, uri: str) -> str:
        key = path_of(uri).relative_to(self.root.resolve()).as_posix()
        return key + "/" if uri.endswith("/") else key

    def path(self, key: str) -> str:
        return str(self.root / key)

    def list(self, under: str = "") -> list[FileRecord]:
        return list_folder(self.root, under)

    def list_window(self, after: str, limit: int) -> Window:
        """The folder is walked whole (a disk lists fast); the bound caps the batches one
        tick registers, as on S3."""
        later = [r for r in list_folder(self.root) if r.key > after]
        records = later[:limit]
        return Window(records, [r.key for r in records], exhausted=len(later) <= limit)

    def fetch(self, key: str, version: str, workdir: Path) -> Path | None:
        """The file itself, used in place."""
        path = self.root / key
        return path if path.is_file() and version_of(path) == version else None

    def version(self, key: str) -> str | None:
        path = self.root / key
        return version_of(path) if path.is_file() else None

    def read(self, key: str, version: str) -> bytes | None:
        path = self.fetch(key, version, self.root)
        return path.read_bytes() if path else None

    def write_bytes(self, key: str, data: bytes) -> str:
        self._parent(key).write_bytes(data)
        return self.path(key)

    def write_parquet(self, frame: pl.DataFrame, key: str, row_group: int) -> str:
        frame.write_parquet(self._parent(key), compression="lz4", row_group_size=row_group)
        return self.path(key)

    def put_file(self, source: Path, key: str) -> str:
        """Copied under a hidden temporary name, then renamed: a sensor never lists half."""
        target = self._parent(key)
        partial = target.with_name(f".{target.name}.part")
        shutil.copyfile(source, partial)
        os.replace(partial, target)
        return self.path(key)

    def clear(self, under: str) -> None:
        shutil.rmtree(self.root / under, ignore_errors=True)

    def scan_parquet(self, under: str) -> pl.LazyFrame:
        return pl.scan_parquet(sorted(str(p) for p in (self.root / under).glob("*.parquet")))

    def link(self, key: str, expires_seconds: int) -> str | None:
        return None

    def move(self, key: str, version: str, to_key: str) -> bool:
        """A rename (size and mtime, the version, move with the file)."""
        source, target = self.root / key, self.root / to_key
        if not source.is_file():
            return target.is_file()
        if version_of(source) != version:
            return False
        os.replace(source, self._parent(to_key))
        return True

    def drop_folder_if_empty(self, folder: str) -> None:
        """The moved folder batch's own directory and its emptied sub-directories go (a
        landing folder would otherwise fill with empty ones); the folders above it, a
        tenant's among them, stay: partners write into those."""
        top = self.root / folder
        for directory in sorted(top.glob("**/"), key=lambda d: len(d.parts), reverse=True):
            with contextlib.suppress(OSError):  # not empty: a file arrived meanwhile
                directory.rmdir()

    def _parent(self, key: str) -> Path:
        """The path of `key`, its folder created."""
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def uri_of(root: Path, key: str) -> str:
    """The URI of a key below `root`; a folder key keeps its trailing `/`."""
    uri = (root / key).resolve().as_uri()
    return uri + "/" if key.endswith("/") else uri


def path_of(uri: str) -> Path:
    """`file:///a/b.csv` -> `/a/b.csv`."""
    return Path(unquote(urlparse(uri).path))


def version_of(path: Path) -> str:
    return _version(path.stat())


def _version(stat: stat_result) -> str:
    """Size and mtime in ns: changes whenever the bytes may have."""
    return f"{stat.st_size}-{stat.st_mtime_ns}"
