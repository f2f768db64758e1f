-- When the batch's dynamic partition was deleted from the Dagster instance (retention):
-- the ledger row stays, and the batch can still be re-run by its URI (`import-pipeline rerun`).
ALTER TABLE ingest.files ADD COLUMN partition_pruned_at timestamptz;
