-- The processed-prefix mode: where a succeeded batch's files were moved (below the landing
-- root's `_processed/<date>/`) and when; processed_uri set without processed_at is a move
-- under way (resumed as it is), processed_at without processed_uri a batch left in place
-- because its files changed since it loaded (the change is a batch of its own).
ALTER TABLE ingest.files ADD COLUMN processed_uri text;
ALTER TABLE ingest.files ADD COLUMN processed_at timestamptz;
CREATE INDEX files_unprocessed ON ingest.files (finished_at)
    WHERE status = 'succeeded' AND processed_at IS NULL;
