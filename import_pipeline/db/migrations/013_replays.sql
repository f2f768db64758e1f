-- A replayed rejects file's batch points at the batch whose rejects it corrects.
ALTER TABLE ingest.files ADD COLUMN corrects text;
CREATE INDEX files_corrects ON ingest.files (corrects) WHERE corrects IS NOT NULL;
