-- Multi-file batches: a reject says which file of its batch it came from
-- (`<file>:<row in that file>`); source_row counts across the batch's files.
ALTER TABLE ingest.rejects ADD COLUMN IF NOT EXISTS source text;
