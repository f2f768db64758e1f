"""Landed files -> batches: which files are ready, how they group, each batch's partition key.

Pure decisions over small file records, so the sensors and the schedule only list and compare.

Layout below the landing root (or below `<root>/<tenant>/` when tenants come from the path):
a file at the top is a batch of its own; a top-level folder is ONE batch of every file in it,
ready once it holds a marker (`_SUCCESS` or `manifest.json`) and waiting until then.
"""

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from import_pipeline.core.formats import strip_compression_suffix

DEFAULT_TENANT = "default"
SUCCESS_MARKER = "_SUCCESS"
MANIFEST = "manifest.json"
MARKERS = (SUCCESS_MARKER, MANIFEST)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
"""A tenant folder's name: letters, digits, `_` and `-`, 64 at most; it is stored in the
ledger, tagged on runs and shown in the UI, so nothing else is let through."""
PROCESSED = "_processed/"
"""Where a succeeded batch's files move below the landing root (the processed-prefix mode):
never listed, so the live prefix holds only what is new or failed."""
_HIDDEN_PREFIXES = (".", "~")
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


@dataclass(frozen=True)
class LandedBatch:
    """Files that load together: one file, or every data file of a marked folder.

    `key` is the file's key, or the folder's key ending in `/`; `version` covers every
    member (and the markers), so any change to any of them makes a new batch.
    """

    uri: str
    key: str
    tenant: str
    members: tuple[FileRecord, ...]
    version: str
    landed_at: datetime

    @property
    def is_folder(self) -> bool:
        return self.key.endswith("/")

    @property
    def name(self) -> str:
        return self.key.rstrip("/").rsplit("/", 1)[-1]

    @property
    def partition_key(self) -> str:
        """Short, UI-safe and deterministic from tenant, URI and version: the same bytes map
        to the same key (never loaded twice); a changed file maps to a new one."""
        identity = f"{self.tenant}\n{self.uri}\n{self.version}"
        digest = hashlib.sha1(identity.encode()).hexdigest()[:12]
        stem = _UNSAFE.sub("_", strip_compression_suffix(self.name)).strip("._-")[:48]
        return f"{stem or 'batch'}-{digest}"


@dataclass(frozen=True)
class Unit:
    """Where a key belongs: its tenant and its batch key (a file, or a folder ending `/`)."""

    tenant: str
    key: str

    @property
    def is_folder(self) -> bool:
        return self.key.endswith("/")


def processed_key(key: str, finished: datetime, tag: str = "") -> str:
    """Where a succeeded batch's file (or folder) goes: `_processed/<UTC date>/<key>`, or
    `_processed/<UTC date>.<tag>/<key>` when another version of the same key is there
    already (a folder re-delivered the same day must not be moved onto the first)."""
    return f"{PROCESSED}{finished.astimezone(UTC):%Y-%m-%d}{_dot(tag)}/{key}"


def redrop_key(key: str, found: datetime, seq: int, tag: str = "") -> str:
    """Where an identical re-send of a loaded batch goes: `_processed/<UTC date>.redrop-<n>/
    <key>` (its n-th re-send), beside the days' folders, so that it never lands on the copy
    that loaded nor on another re-send; `tag` tells apart re-sends of two versions."""
    return f"{PROCESSED}{found.astimezone(UTC):%Y-%m-%d}.redrop-{seq}{_dot(tag)}/{key}"


def version_tag(version: str) -> str:
    """A short name for a batch's version, for a processed folder that must not collide."""
    return hashlib.sha1(version.encode()).hexdigest()[:12]


def _dot(tag: str) -> str:
    return f".{tag}" if tag else ""


def is_listed(key: str, under: str = "") -> bool:
    """Hidden and temp-upload files and processed batches are never listed, unless a
    listing asks for a folder below `_processed/` itself (a moved batch read again);
    markers (`_SUCCESS`) are."""
    processed = key.startswith(PROCESSED) and not under.startswith(PROCESSED)
    return not processed and all(
        part
        and not part.startswith(_HIDDEN_PREFIXES)
        and not part.lower().endswith(_IGNORED_SUFFIXES)
        for part in key.split("/")
    )


def unit_of(key: str, tenant_from_path: bool) -> Unit:
    """`t1/orders.csv` -> (t1, `t1/orders.csv`); `t1/drop/a.csv` -> (t1, `t1/drop/`)."""
    parts = key.split("/")
    tenant, depth = DEFAULT_TENANT, 1
    if tenant_from_path and len(parts) > 1:
        tenant, depth = parts[0], 2
    if len(parts) <= depth:
        return Unit(tenant, key)
    return Unit(tenant, "/".join(parts[:depth]) + "/")


def tenant_problem(name: str) -> str | None:
    """Why a folder name cannot be a tenant, or None when it can. `default` is the tenant
    of the root's own files: a folder of that name would write over their rows."""
    if name.lower() == DEFAULT_TENANT:
        return (
            f"a tenant folder may not be named {DEFAULT_TENANT!r} (the tenant of the files "
            "at the root); rename the folder"
        )
    if not TENANT_NAME.fullmatch(name):
        return (
            f"the tenant folder name {name[:80]!r} is not 1-64 letters, digits, '_' or '-' "
            "(starting with a letter or digit); rename the folder"
        )
    return None


def unusable_tenants(records: list[FileRecord], tenant_from_path: bool) -> dict[str, str]:
    """Tenant folders whose files are skipped, each with why (for the sensor to report)."""
    if not tenant_from_path:
        return {}
    folders = {r.key.split("/", 1)[0] for r in records if "/" in r.key}
    problems = {folder: tenant_problem(folder) for folder in sorted(folders)}
    return {folder: problem for folder, problem in problems.items() if problem}


def plan(
    records: list[FileRecord], tenant_from_path: bool, uri_for: Callable[[str], str]
) -> list[LandedBatch]:
    """Group listed files into the batches that are ready; unmarked folders wait, and the
    files of a folder that is no valid tenant name are left out (`unusable_tenants`).

    `uri_for` turns a batch key into its URI (the listing knows how its zone addresses keys).
    """
    units: dict[Unit, list[FileRecord]] = {}
    for record in records:
        unit = unit_of(record.key, tenant_from_path)
        if unit.key.startswith(unit.tenant + "/") and tenant_problem(unit.tenant):
            continue
        units.setdefault(unit, []).append(record)
    batches = []
    for unit, files in units.items():
        if not unit.is_folder:
            (record,) = files
            if is_data_file(record.key):
                batches.append(_batch(unit, record.uri, files, (record,), record.version))
        elif any(f.key.removeprefix(unit.key) in MARKERS for f in files):
            members = folder_members(files, unit.key)
            batches.append(_batch(unit, uri_for(unit.key), files, members, folder_version(files)))
    return sorted(batches, key=lambda b: b.key)


def is_data_file(key: str) -> bool:
    """Markers (`_SUCCESS`, `manifest.json`) and `_`-prefixed names (`_logs/`) are never
    data, at whatever depth: a marker's place depends on the layout (a tenant's folder, a
    folder batch, a sub-folder), its name does not."""
    parts = key.split("/")
    return parts[-1] not in MARKERS and not any(part.startswith("_") for part in parts)


def folder_members(files: list[FileRecord], folder: str) -> tuple[FileRecord, ...]:
    """The data files of a folder batch (every file below it but markers and `_` names)."""
    return tuple(f for f in files if is_data_file(f.key.removeprefix(folder)))


def folder_version(files: list[FileRecord]) -> str:
    """One version for a folder batch: a hash of every file's key and version."""
    lines = "\n".join(f"{f.key}\t{f.version}" for f in sorted(files, key=lambda f: f.key))
    return hashlib.sha1(lines.encode()).hexdigest()


def _batch(
    unit: Unit,
    uri: str,
    files: list[FileRecord],
    members: tuple[FileRecord, ...],
    version: str,
) -> LandedBatch:
    return LandedBatch(
        uri=uri,
        key=unit.key,
        tenant=unit.tenant,
        members=members,
        version=version,
        landed_at=max(f.modified for f in files),
    )


@dataclass(frozen=True)
class Window:
    """A bounded, key-ordered listing: the usable records, every key it listed (hidden and
    temp files too) and whether it reached the end of the landing zone."""

    records: list[FileRecord]
    keys: list[str]
    exhausted: bool


def complete_window(window: Window, tenant_from_path: bool) -> tuple[list[FileRecord], str, str]:
    """Cut a bounded listing back to whole batches; return them, where the next window
    starts ("" = wrap around to the start, so changed objects are found on the next pass),
    and the key of a folder skipped for being bigger than a whole window ("" = none).

    A listing that stopped at its bound may have cut its last folder in two; that folder is
    left for the next window. A folder bigger than a window would stop the sensor for good,
    so it is skipped (the reconciliation schedule lists without a bound and still finds it).
    """
    if window.exhausted or not window.keys:
        return window.records, "", ""
    last = unit_of(window.keys[-1], tenant_from_path)
    if not last.is_folder:
        return window.records, window.keys[-1], ""
    before = [k for k in window.keys if not k.startswith(last.key)]
    if not before:
        return [], window.keys[-1], last.key
    kept = [r for r in window.records if not r.key.startswith(last.key)]
    return kept, before[-1], ""


def settled(
    batches: list[LandedBatch], seen: dict[str, str], now: datetime, settle_seconds: float
) -> tuple[list[LandedBatch], dict[str, str]]:
    """Split batches into those ready to load and those possibly still being written.

    A batch is ready when its version is the one seen on the previous tick, or when none of
    its files changed for `settle_seconds`. Returns the ready batches and the new `seen`
    map (uri -> version) of the batches still waiting, which is all the cursor keeps.
    """
    ready, waiting = [], {}
    for batch in batches:
        quiet = (now - batch.landed_at).total_seconds() >= settle_seconds
        if quiet or seen.get(batch.uri) == batch.version:
            ready.append(batch)
        else:
            waiting[batch.uri] = batch.version
    return ready, waiting


def settle_pause(
    batches: list[LandedBatch], waiting: dict[str, str], now: datetime, settle_seconds: float
) -> float:
    """Seconds until the youngest waiting batch will have held still for `settle_seconds`
    (at most that, whatever the clocks say; 0 when none waits): a tick that waits so long
    and looks again takes a file that landed just before it at once, where leaving it to
    the next tick would add a whole tick to its landing-to-loaded time."""
    ages = [(now - b.landed_at).total_seconds() for b in batches if b.uri in waiting]
    if not ages:
        return 0.0
    return min(max(settle_seconds - min(ages), 0.0), settle_seconds)
