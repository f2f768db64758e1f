"""A batch's product images: fetch what is new, store renditions once per image, record.

Each image is its own outcome: a failure (a 404, a timeout, a refused address, bytes that
are not an image) is recorded with its reason and a time to try again (doubling backoff),
and never raises. Only the database being unusable fails the step.
"""

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from psycopg2.extensions import connection

from import_pipeline.core.images import RENDITIONS, NotAnImage, product_image, sha256
from import_pipeline.db import images as db
from import_pipeline.db.images import OK, ImageRecord, ImageRef, Renditions, StoredImage
from import_pipeline.files.layout import image_file
from import_pipeline.files.store import Store
from import_pipeline.files.web import FetchError, FetchPolicy, fetch

Connect = Callable[[], AbstractContextManager[connection]]


@dataclass(frozen=True)
class Retries:
    """When a failed image is tried again: after `backoff`, doubled per attempt up to
    `max_backoff`; after `max_attempts` it waits for a new file naming it."""

    backoff: timedelta = timedelta(minutes=15)
    max_backoff: timedelta = timedelta(hours=24)
    max_attempts: int = 6

    def next_attempt(self, attempts: int, now: datetime) -> datetime | None:
        if attempts >= self.max_attempts:
            return None
        return now + min(self.backoff * 2 ** (attempts - 1), self.max_backoff)


@dataclass
class ImagesReport:
    """What one run did with a batch's images; `failures` are (url, error) pairs."""

    named: int = 0
    downloaded: int = 0
    reused: int = 0
    failed: int = 0
    waiting: int = 0
    removed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Download:
    ref: ImageRef
    body: bytes | None = None
    error: str | None = None
    digest: str = ""
    """The body's SHA-256, taken once when it arrived."""


def load_images(
    connect: Connect,
    store: Store,
    partition_key: str,
    columns: list[str],
    policy: FetchPolicy,
    retries: Retries,
    now: datetime,
    concurrency: int = 8,
) -> ImagesReport:
    """Fetch and record the images of the products this batch inserted or changed. An
    image already stored from the same URL is kept; a failed one waits for its next
    attempt; the rest are downloaded `concurrency` at a time. No `columns` (a batch the
    ledger does not know): nothing is fetched or removed."""
    report = ImagesReport()
    if not columns:
        return report
    with connect() as conn:
        refs = db.batch_images(conn, partition_key, columns)
        known = db.stored(conn, refs)
        report.removed = db.drop_missing(conn, partition_key, refs)
    report.named = len(refs)
    todo = []
    for ref in refs:
        before = known.get((ref.tenant, ref.product_id, ref.position))
        if before is not None and before.url == ref.url and before.status in OK:
            report.reused += 1
        elif before is not None and before.url == ref.url and not _due(before, now, retries):
            report.waiting += 1
        else:
            todo.append(ref)
    records = list(_fetched_records(connect, store, todo, known, policy, retries, now, concurrency))
    for record in records:
        if record.status == "failed":
            report.failed += 1
            report.failures.append((record.ref.url, record.error or ""))
        elif record.status == "reused":
            report.reused += 1
        else:
            report.downloaded += 1
    with connect() as conn:
        db.record(conn, partition_key, records)
    return report


def _due(before: StoredImage, now: datetime, retries: Retries) -> bool:
    return (
        before.attempts < retries.max_attempts
        and before.next_attempt_at is not None
        and before.next_attempt_at <= now
    )


def _fetched_records(
    connect: Connect,
    store: Store,
    todo: list[ImageRef],
    known: dict[tuple[str, str, int], StoredImage],
    policy: FetchPolicy,
    retries: Retries,
    now: datetime,
    concurrency: int,
) -> Iterator[ImageRecord]:
    """Downloads run side by side; storing runs here, in order, so the first product to
    bring an image stores it and every later one (same SHA-256) reuses its files."""
    if not todo:
        return
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="image") as pool:
        downloads = list(pool.map(lambda ref: _download(ref, policy), todo))
    hashes = {d.ref.tenant: set() for d in downloads}
    for d in downloads:
        if d.body is not None:
            hashes[d.ref.tenant].add(d.digest)
    with connect() as conn:
        stored = {
            (tenant, sha): paths
            for tenant, shas in hashes.items()
            for sha, paths in db.stored_by_hash(conn, tenant, sorted(shas)).items()
        }
    for download in downloads:
        before = known.get((download.ref.tenant, download.ref.product_id, download.ref.position))
        attempts = (before.attempts + 1) if before is not None and before.status == "failed" else 1
        yield _stored(store, download, stored, attempts, retries, now)


def _download(ref: ImageRef, policy: FetchPolicy) -> _Download:
    try:
        body = fetch(ref.url, policy).body
        return _Download(ref, body=body, digest=sha256(body))
    except FetchError as exc:
        return _Download(ref, error=f"{type(exc).__name__}: {exc}")


def _stored(
    store: Store,
    download: _Download,
    stored: dict[tuple[str, str], Renditions],
    attempts: int,
    retries: Retries,
    now: datetime,
) -> ImageRecord:
    ref = download.ref
    if download.body is None:
        return _failed(ref, download.error or "", attempts, retries, now)
    digest = download.digest
    renditions = stored.get((ref.tenant, digest))
    if renditions is not None:
        return ImageRecord(ref, "reused", sha256=digest, stored=renditions)
    try:
        image = product_image(download.body)
    except NotAnImage as exc:
        return _failed(ref, f"NotAnImage: {exc}", attempts, retries, now)
    paths = [
        store.write_bytes(image_file(ref.tenant, ref.product_id, digest, name), image.jpegs[name])
        for name in RENDITIONS
    ]
    renditions = Renditions((paths[0], paths[1], paths[2]), image.phash, image.width, image.height)
    stored[(ref.tenant, digest)] = renditions
    return ImageRecord(ref, "downloaded", sha256=digest, stored=renditions)


def _failed(
    ref: ImageRef, error: str, attempts: int, retries: Retries, now: datetime
) -> ImageRecord:
    return ImageRecord(
        ref,
        "failed",
        error=error,
        attempts=attempts,
        next_attempt_at=retries.next_attempt(attempts, now),
    )
