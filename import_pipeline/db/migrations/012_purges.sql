-- The purges' ledger: who was purged, of what, how (chunked deletes or TRUNCATE), how many
-- rows went and how many were kept because another batch's rows still reference them.
CREATE TABLE ingest.purges (
    purge_id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant        text        NOT NULL,
    entities      text[]      NOT NULL,
    partition_key text,
    run_id        text,
    status        text        NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'succeeded', 'failed')),
    truncated     text[]      NOT NULL DEFAULT '{}',
    counts        jsonb       NOT NULL DEFAULT '{}',
    error         text,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
CREATE INDEX purges_tenant ON ingest.purges (tenant, started_at);
