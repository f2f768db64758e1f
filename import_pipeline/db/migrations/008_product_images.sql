-- A product's images (the URLs its file named, up to 10 positions), each fetched, hashed
-- and stored as JPEG renditions in the staging store, or failed with the reason and when
-- to try again. A product's rows go with it.
CREATE TABLE commerce.product_images (
    tenant          text        NOT NULL,
    product_id      text        NOT NULL,
    position        smallint    NOT NULL CHECK (position BETWEEN 1 AND 10),
    source_url      text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('downloaded', 'reused', 'failed')),
    sha256          text,
    phash           text,
    width           integer,
    height          integer,
    original_path   text,
    medium_path     text,
    thumbnail_path  text,
    error           text,
    attempts        integer     NOT NULL DEFAULT 1,
    next_attempt_at timestamptz,
    _batch          text        NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, product_id, position),
    FOREIGN KEY (tenant, product_id)
        REFERENCES commerce.products (tenant, product_id) ON DELETE CASCADE,
    CHECK ((status = 'failed') = (error IS NOT NULL)),
    CHECK (status = 'failed' OR (sha256 IS NOT NULL AND original_path IS NOT NULL))
);
CREATE INDEX product_images_sha256 ON commerce.product_images (tenant, sha256);
CREATE INDEX product_images_phash ON commerce.product_images (tenant, phash);
CREATE INDEX product_images_due ON commerce.product_images (next_attempt_at)
    WHERE status = 'failed';
