"""commerce.product_images: which images a batch's products name, what is known of them,
and each fetch's outcome."""

from dataclasses import dataclass
from datetime import datetime

from psycopg2.extensions import connection
from psycopg2.extras import execute_values

OK = ("downloaded", "reused")


@dataclass(frozen=True)
class ImageRef:
    """An image a product names: its position is the profile's image column it came from."""

    tenant: str
    product_id: str
    position: int
    url: str


@dataclass(frozen=True)
class StoredImage:
    """What the table says of one (tenant, product_id, position) already."""

    url: str
    status: str
    sha256: str | None
    attempts: int
    next_attempt_at: datetime | None


@dataclass(frozen=True)
class Renditions:
    """An image stored once: its rendition paths (original, medium, thumbnail) and what
    its decode measured, shared by every product that names the same bytes."""

    paths: tuple[str, str, str]
    phash: str | None
    width: int | None
    height: int | None


@dataclass(frozen=True)
class ImageRecord:
    """One fetch's outcome, as written: a stored image (paths by rendition) or an error."""

    ref: ImageRef
    status: str
    sha256: str | None = None
    stored: Renditions | None = None
    error: str | None = None
    attempts: int = 1
    next_attempt_at: datetime | None = None


def batch_images(conn: connection, partition_key: str, columns: list[str]) -> list[ImageRef]:
    """The image URLs of the products this batch inserted or changed (`_batch`), read from
    their `attributes` under the profile's image columns (position = column order)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT p.tenant, p.product_id, c.position, btrim(p.attributes ->> c.name)"
            "  FROM commerce.products p"
            " CROSS JOIN unnest(%s::text[]) WITH ORDINALITY AS c(name, position)"
            " WHERE p._batch = %s AND coalesce(btrim(p.attributes ->> c.name), '') <> ''"
            " ORDER BY p.tenant, p.product_id, c.position",
            (columns, partition_key),
        )
        return [ImageRef(*row) for row in cur.fetchall()]


def stored(conn: connection, refs: list[ImageRef]) -> dict[tuple[str, str, int], StoredImage]:
    """What the table holds for these images' (tenant, product_id, position)."""
    if not refs:
        return {}
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT i.tenant, i.product_id, i.position, i.source_url, i.status, i.sha256,"
            "       i.attempts, i.next_attempt_at"
            "  FROM commerce.product_images i"
            "  JOIN unnest(%s::text[], %s::text[], %s::int[]) AS r(tenant, product_id, position)"
            "    ON (i.tenant, i.product_id, i.position) = (r.tenant, r.product_id, r.position)",
            (
                [r.tenant for r in refs],
                [r.product_id for r in refs],
                [r.position for r in refs],
            ),
        )
        return {(t, p, n): StoredImage(*rest) for t, p, n, *rest in cur.fetchall()}


def stored_by_hash(conn: connection, tenant: str, hashes: list[str]) -> dict[str, Renditions]:
    """The tenant's stored images by SHA-256."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT ON (sha256) sha256, original_path, medium_path, thumbnail_path,"
            "       phash, width, height"
            "  FROM commerce.product_images"
            " WHERE tenant = %s AND sha256 = ANY(%s) AND status IN ('downloaded', 'reused')"
            " ORDER BY sha256, updated_at",
            (tenant, hashes),
        )
        return {sha: Renditions((o, m, t), *rest) for sha, o, m, t, *rest in cur.fetchall()}


def record(conn: connection, partition_key: str, records: list[ImageRecord]) -> None:
    """Write the outcomes in one transaction (a product deleted meanwhile takes its rows
    with it: the foreign key cascades, and a missing product's row is skipped)."""
    rows = [
        (
            r.ref.tenant,
            r.ref.product_id,
            r.ref.position,
            r.ref.url,
            r.status,
            r.sha256,
            r.stored.phash if r.stored else None,
            r.stored.width if r.stored else None,
            r.stored.height if r.stored else None,
            *(r.stored.paths if r.stored else (None, None, None)),
            r.error,
            r.attempts,
            r.next_attempt_at,
            partition_key,
        )
        for r in records
    ]
    if not rows:
        return
    with conn, conn.cursor() as cur:
        execute_values(
            cur,
            "INSERT INTO commerce.product_images AS i (tenant, product_id, position, source_url,"
            " status, sha256, phash, width, height, original_path, medium_path, thumbnail_path,"
            " error, attempts, next_attempt_at, _batch)"
            " SELECT v.* FROM (VALUES %s) AS v(tenant, product_id, position, source_url,"
            " status, sha256, phash, width, height, original_path, medium_path, thumbnail_path,"
            " error, attempts, next_attempt_at, _batch)"
            " JOIN commerce.products p USING (tenant, product_id)"
            " ON CONFLICT (tenant, product_id, position) DO UPDATE SET"
            " (source_url, status, sha256, phash, width, height, original_path, medium_path,"
            "  thumbnail_path, error, attempts, next_attempt_at, _batch, updated_at) ="
            " (EXCLUDED.source_url, EXCLUDED.status, EXCLUDED.sha256, EXCLUDED.phash,"
            "  EXCLUDED.width, EXCLUDED.height, EXCLUDED.original_path, EXCLUDED.medium_path,"
            "  EXCLUDED.thumbnail_path, EXCLUDED.error, EXCLUDED.attempts,"
            "  EXCLUDED.next_attempt_at, EXCLUDED._batch, now())",
            rows,
            template="(%s, %s, %s::smallint, %s, %s, %s, %s, %s::integer, %s::integer, %s, %s,"
            " %s, %s, %s::integer, %s::timestamptz, %s)",
        )


def drop_missing(conn: connection, partition_key: str, refs: list[ImageRef]) -> int:
    """Remove the images of this batch's products at positions their new version no
    longer names; returns how many."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "DELETE FROM commerce.product_images i USING commerce.products p"
            " WHERE p._batch = %s AND (i.tenant, i.product_id) = (p.tenant, p.product_id)"
            "   AND NOT EXISTS (SELECT 1 FROM unnest(%s::text[], %s::int[]) AS r(product_id,"
            "       position) WHERE (r.product_id, r.position) = (i.product_id, i.position))",
            (partition_key, [r.product_id for r in refs], [r.position for r in refs]),
        )
        return cur.rowcount


def due_batches(conn: connection, now: datetime, max_attempts: int) -> list[str]:
    """Batches holding a failed image whose next attempt is due."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT _batch FROM commerce.product_images"
            " WHERE status = 'failed' AND next_attempt_at <= %s AND attempts < %s"
            " ORDER BY _batch",
            (now, max_attempts),
        )
        return [row[0] for row in cur.fetchall()]
