"""The processed-prefix mode's sequences below Dagster: move succeeded batches and identical
re-sends of them out of the live prefix, and find a moved batch again when its run is
re-executed."""

from collections.abc import Callable
from functools import partial
from pathlib import Path

from psycopg2.extensions import connection

from import_pipeline.core.errors import FileChanged, MovedBatchMissing
from import_pipeline.core.landing import processed_key, redrop_key, version_tag
from import_pipeline.core.manifest import Manifest
from import_pipeline.core.stage import LandedFile
from import_pipeline.db import processed
from import_pipeline.db.ledger import Batch
from import_pipeline.files.store import Moved, Store, fetch_batch, move_batch


def move_succeeded(store: Store, conn: connection, limit: int) -> list[str]:
    """Move up to `limit` succeeded batches to `_processed/<date they finished>/`, each
    recorded in the ledger; the partition keys moved. Safe to repeat: a file already moved
    is found at its target, a move cut short is resumed, a batch whose files changed since
    it loaded stays where it is (the change is a batch of its own)."""
    done = []
    for batch in processed.unmoved(conn, store.uri(""), limit):
        key_for = partial(processed_key, store.key_of(batch.uri), batch.finished_at)
        claim = partial(processed.claim, conn, batch.partition_key)
        moved = _move(store, batch.uri, batch.version, batch.target, key_for, claim)
        if moved is None:
            processed.moved(conn, batch.partition_key, None, None)
        else:
            processed.moved(conn, batch.partition_key, moved.uri, moved.version)
            done.append(batch.partition_key)
    return done


def note_redrops(conn: connection, known: list[str]) -> list[str]:
    """Of batches listed again that the ledger knew, record the identical re-sends of ones
    that loaded and moved, for `move_redrops`; the keys newly recorded."""
    return processed.note_redrops(conn, known)


def move_redrops(store: Store, conn: connection, limit: int) -> list[str]:
    """Move up to `limit` recorded re-sends to `_processed/<date found>.redrop-<n>/`, never
    onto the copy that loaded or another re-send; the URIs they moved to. A re-send gone or
    changed before it moved is forgotten (a change is a batch of its own)."""
    done = []
    for redrop in processed.unmoved_redrops(conn, store.uri(""), limit):
        key_for = partial(redrop_key, store.key_of(redrop.uri), redrop.found_at, redrop.seq)
        claim = partial(processed.claim_redrop, conn, redrop.id)
        moved = _move(store, redrop.uri, redrop.version, redrop.target, key_for, claim)
        processed.redrop_moved(conn, redrop.id, moved.uri if moved else None)
        if moved:
            done.append(moved.uri)
    return done


def _move(
    store: Store,
    uri: str,
    version: str,
    claimed: str | None,
    key_for: Callable[[str], str],
    claim: Callable[[str], None],
) -> Moved | None:
    """Move a batch (or a re-send) to the target it `claimed` before (a move cut short,
    resumed), else to a free one, claimed in the ledger before the first file moves."""
    if claimed is not None:
        return move_batch(store, uri, version, store.key_of(claimed), resumed=True)
    to_key = free_key(store, key_for, version)
    claim(store.uri(to_key))
    return move_batch(store, uri, version, to_key, resumed=False)


def free_key(store: Store, key_for: Callable[[str], str], version: str) -> str:
    """The processed key for a batch: the plain one, or the one tagged with its version
    when another batch of the same key already moved there (a folder re-delivered the
    same day, or re-sends of two versions of one file, must never merge or overwrite)."""
    plain = key_for("")
    taken = store.list(plain) if plain.endswith("/") else store.version(plain) is not None
    return key_for(version_tag(version)) if taken else plain


def fetch_landed(
    store: Store, conn: connection, batch: Batch, workdir: Path
) -> tuple[list[LandedFile], Manifest]:
    """The batch's files and manifest where it landed or, once the processed-prefix mode
    moved it, where the ledger says it went: a re-executed run of a moved batch reads the
    same bytes again. Either place must hold the version that loaded."""
    try:
        return fetch_batch(store, batch.uri, batch.version, batch.file_name, workdir)
    except FileChanged:
        copy = processed.copy_of(conn, batch.partition_key)
        if copy is None:
            raise
    try:
        if copy.version is not None:
            return fetch_batch(store, copy.uri, copy.version, batch.file_name, workdir)
        landed = store.key_of(batch.uri)
        return fetch_batch(store, copy.uri, batch.version, batch.file_name, workdir, landed)
    except FileChanged as exc:
        raise MovedBatchMissing(
            batch.file_name,
            f"the version that loaded ({batch.version}) is neither where it landed "
            f"({batch.uri}) nor where the processed-prefix mode moved it ({copy.uri}): "
            "its copy was deleted or replaced",
            f"Put those files back at {copy.uri} as they were and re-execute; other bytes "
            "dropped into the landing zone load as a new batch.",
        ) from exc
