-- A held row's version is a number that orders like its entity's version, whatever that
-- is (a timestamp as microseconds since the epoch, a sequence number as itself), so held
-- rows keep one shape when an entity is versioned by a sequence.
ALTER TABLE ingest.held_rows RENAME COLUMN updated_at TO version;
ALTER TABLE ingest.held_rows
    ALTER COLUMN version TYPE numeric USING extract(epoch FROM version) * 1000000;
