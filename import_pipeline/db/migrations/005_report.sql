-- The run report in the ledger: every source row of a batch accounted for
-- (read = staged + rejected + skipped + duplicates), per entity in `accounting`
-- (with skipped rows by reason and each entity's reject rate), the files a person
-- downloads, and staging's progress (rows read so far) while a run stages.
ALTER TABLE ingest.files
    ADD COLUMN rows_read       bigint,
    ADD COLUMN rows_staged     bigint,
    ADD COLUMN rows_rejected   bigint,
    ADD COLUMN rows_skipped    bigint,
    ADD COLUMN rows_duplicates bigint,
    ADD COLUMN rows_validated  bigint,
    ADD COLUMN accounting      jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN rejects_file    text,
    ADD COLUMN duplicates_file text;

-- Keys a batch holds in several versions that disagree: every version, the one staged
-- marked `kept`, so a person sees which values lost (and `import-pipeline rejects` can
-- export them).
CREATE TABLE ingest.duplicates (
    partition_key text    NOT NULL,
    entity        text    NOT NULL,
    key           text    NOT NULL,
    source_row    bigint  NOT NULL,
    kept          boolean NOT NULL,
    "values"      jsonb   NOT NULL,
    PRIMARY KEY (partition_key, entity, source_row)
);

-- The held_rows check counts the rows its own batch held (not other batches' leftovers).
CREATE INDEX held_rows_batch ON ingest.held_rows (partition_key, entity);
