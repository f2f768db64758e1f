-- A batch a person cancelled stays cancelled (the reconciliation never reloads it), and a
-- failed batch says whether trying again can heal it (a lost connection, a dead run, a
-- timeout: true) or a person must act first (a named file error: false).
ALTER TABLE ingest.files DROP CONSTRAINT IF EXISTS files_status_check;
ALTER TABLE ingest.files ADD CONSTRAINT files_status_check
    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled'));
ALTER TABLE ingest.files ADD COLUMN retryable boolean;
