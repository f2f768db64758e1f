-- The processed-prefix mode, completed. `processed_version`: the version of a moved batch's
-- copy as its store lists it at `processed_uri` (a folder's over its keys there), so a
-- re-executed run reads the copy and knows it holds the bytes that loaded (an S3 copy may
-- carry another ETag than its source). `ingest.redrops`: every identical re-send of a
-- batch that had already loaded and moved (same URI and version), found in the live prefix
-- by the landing sensor and moved out by the processed sensor; `seq` numbers a batch's
-- re-sends (1, 2, ...) and names the folder each goes to; `processed_uri` set without
-- `processed_at` is a move under way.
ALTER TABLE ingest.files ADD COLUMN processed_version text;
CREATE TABLE ingest.redrops (
    id bigserial PRIMARY KEY,
    partition_key text NOT NULL REFERENCES ingest.files ON DELETE CASCADE,
    seq integer NOT NULL,
    found_at timestamptz NOT NULL DEFAULT now(),
    processed_uri text,
    processed_at timestamptz,
    UNIQUE (partition_key, seq)
);
CREATE UNIQUE INDEX redrops_waiting ON ingest.redrops (partition_key) WHERE processed_at IS NULL;
