"""Possible duplicate products: another product of the tenant with the same normalised
name and brand, or an image with the same perceptual hash. Reported, never merged."""

import polars as pl
from psycopg2.extensions import connection

SCHEMA = {
    "product_id": pl.String,
    "name": pl.String,
    "brand": pl.String,
    "other_product_id": pl.String,
    "other_name": pl.String,
    "reason": pl.String,
}

# Names and brands compare lower-cased, with runs of spaces and punctuation as one space.
POSSIBLE_DUPLICATES = """
WITH batch AS (
    SELECT tenant, product_id, name, brand,
           btrim(lower(regexp_replace(name, '[[:space:][:punct:]]+', ' ', 'g'))) AS name_key,
           btrim(lower(regexp_replace(brand, '[[:space:][:punct:]]+', ' ', 'g'))) AS brand_key
      FROM commerce.products
     WHERE _batch = %(batch)s
)
SELECT p.product_id, p.name, p.brand, o.product_id, o.name, 'name+brand'
  FROM batch p
  JOIN commerce.products o
    ON o.tenant = p.tenant AND o.product_id <> p.product_id
   AND btrim(lower(regexp_replace(o.name, '[[:space:][:punct:]]+', ' ', 'g'))) = p.name_key
   AND btrim(lower(regexp_replace(o.brand, '[[:space:][:punct:]]+', ' ', 'g'))) = p.brand_key
 WHERE p.brand_key <> ''
UNION
SELECT p.product_id, p.name, p.brand, o.product_id, o.name, 'image'
  FROM batch p
  JOIN commerce.product_images pi
    ON pi.tenant = p.tenant AND pi.product_id = p.product_id AND pi.phash IS NOT NULL
  JOIN commerce.product_images oi
    ON oi.tenant = p.tenant AND oi.phash = pi.phash AND oi.product_id <> p.product_id
  JOIN commerce.products o ON o.tenant = oi.tenant AND o.product_id = oi.product_id
 ORDER BY 1, 4, 6
"""


def possible_duplicates(conn: connection, partition_key: str) -> pl.DataFrame:
    """Pairs (a product this batch inserted or changed, another product of its tenant)
    that look like one product, with the reason: `name+brand` or `image` (same pHash)."""
    with conn, conn.cursor() as cur:
        cur.execute(POSSIBLE_DUPLICATES, {"batch": partition_key})
        rows = cur.fetchall()
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")
