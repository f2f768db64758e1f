-- A fingerprint of each row's key and values (everything but the version; see
-- db/upsert.py): a re-load compares a chunk's keys, versions and fingerprints with the
-- stored ones first, so only new or changed rows travel in full. NULL (rows written
-- before this column) just means "compare in full".
ALTER TABLE commerce.customers ADD COLUMN _fingerprint bigint;
ALTER TABLE commerce.products ADD COLUMN _fingerprint bigint;
ALTER TABLE commerce.orders ADD COLUMN _fingerprint bigint;
ALTER TABLE commerce.line_items ADD COLUMN _fingerprint bigint;
