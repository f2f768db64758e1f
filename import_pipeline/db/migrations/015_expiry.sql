-- What the daily expiry removed of a batch (the ledger row itself is kept forever): its
-- staged Parquet, its report files (rejects, duplicates) and its ingest.rejects rows.
ALTER TABLE ingest.files
    ADD COLUMN staged_expired_at  timestamptz,
    ADD COLUMN reports_expired_at timestamptz,
    ADD COLUMN rejects_expired_at timestamptz,
    ADD COLUMN rejects_expired    bigint;
