"""A landing zone or staging area in a local folder."""

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

from import_pipeline.core.landing import FileRecord, is_candidate


def list_folder(root: Path) -> list[FileRecord]:
    """Every candidate file below `root`, sorted by key; a missing root lists nothing."""
    if not root.is_dir():
        return []
    records = []
    for path in sorted(root.rglob("*")):
        key = path.relative_to(root).as_posix()
        if not path.is_file() or not all(is_candidate(part) for part in key.split("/")):
            continue
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
    return records


def path_of(uri: str) -> Path:
    """`file:///a/b.csv` -> `/a/b.csv`."""
    return Path(unquote(urlparse(uri).path))


def version_of(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}-{stat.st_mtime_ns}"
