"""A landing zone or staging area in a local folder."""

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

from import_pipeline.core.landing import FileRecord, is_listed


def list_folder(root: Path, under: str = "") -> list[FileRecord]:
    """Every listed file below `root` (or below its sub-folder `under`), sorted by key;
    keys are relative to `root`. A missing folder lists nothing."""
    folder = root / under
    if not folder.is_dir():
        return []
    records = []
    for path in sorted(folder.rglob("*")):
        key = path.relative_to(root).as_posix()
        if path.is_file() and is_listed(key):
            stat = path.stat()
            records.append(
                FileRecord(
                    uri=path.resolve().as_uri(),
                    key=key,
                    size=stat.st_size,
                    modified=datetime.fromtimestamp(stat.st_mtime, UTC),
                    version=f"{stat.st_size}-{stat.st_mtime_ns}",
                )
            )
    return sorted(records, key=lambda r: r.key)


def uri_of(root: Path, key: str) -> str:
    """The URI of a key below `root`; a folder key keeps its trailing `/`."""
    uri = (root / key).resolve().as_uri()
    return uri + "/" if key.endswith("/") else uri


def path_of(uri: str) -> Path:
    """`file:///a/b.csv` -> `/a/b.csv`."""
    return Path(unquote(urlparse(uri).path))


def version_of(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}-{stat.st_mtime_ns}"
