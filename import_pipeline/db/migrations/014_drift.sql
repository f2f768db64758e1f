-- Schema drift of a batch's files against their profile (core/drift.py): columns added,
-- missing, renamed-looking, and fields whose values no longer cast; NULL before staging.
ALTER TABLE ingest.files ADD COLUMN drift jsonb;
