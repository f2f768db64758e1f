"""A landing zone or staging area in a local folder."""

from datetime import UTC, datetime
from os import stat_result
from pathlib import Path
from stat import S_ISREG
from urllib.parse import unquote, urlparse

from import_pipeline.core.landing import FileRecord, is_listed


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
        if not is_listed(key) or not _stays_home(path, key, resolved):
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
