-- Business tables (commerce) and bookkeeping (ingest). Keys are the source's natural
-- keys scoped by tenant; every business row carries its version (updated_at) and
-- provenance (_batch = the ledger's partition key, _loaded_at).

CREATE SCHEMA IF NOT EXISTS commerce;
CREATE SCHEMA IF NOT EXISTS ingest;

CREATE TABLE commerce.customers (
    tenant      text        NOT NULL,
    customer_id text        NOT NULL,
    email       text,
    first_name  text,
    last_name   text,
    phone       text,
    country     text,
    created_at  timestamptz,
    attributes  jsonb,
    updated_at  timestamptz NOT NULL,
    _batch      text        NOT NULL,
    _loaded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, customer_id)
);

CREATE TABLE commerce.products (
    tenant      text        NOT NULL,
    product_id  text        NOT NULL,
    sku         text,
    name        text        NOT NULL,
    category    text,
    price       numeric(18,4) CHECK (price >= 0),
    currency    char(3),
    attributes  jsonb,
    updated_at  timestamptz NOT NULL,
    _batch      text        NOT NULL,
    _loaded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, product_id),
    CONSTRAINT products_sku_unique UNIQUE (tenant, sku)
);

CREATE TABLE commerce.orders (
    tenant      text        NOT NULL,
    order_id    text        NOT NULL,
    customer_id text,
    status      text        NOT NULL,
    currency    char(3),
    total       numeric(18,4) CHECK (total >= 0),
    ordered_at  timestamptz NOT NULL,
    attributes  jsonb,
    updated_at  timestamptz NOT NULL,
    _batch      text        NOT NULL,
    _loaded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, order_id),
    FOREIGN KEY (tenant, customer_id) REFERENCES commerce.customers (tenant, customer_id)
);
CREATE INDEX orders_customer ON commerce.orders (tenant, customer_id);

CREATE TABLE commerce.line_items (
    tenant       text        NOT NULL,
    line_item_id text        NOT NULL,
    order_id     text        NOT NULL,
    product_id   text        NOT NULL,
    quantity     bigint      NOT NULL CHECK (quantity > 0),
    unit_price   numeric(18,4) NOT NULL CHECK (unit_price >= 0),
    line_total   numeric(18,4),
    attributes   jsonb,
    updated_at   timestamptz NOT NULL,
    _batch       text        NOT NULL,
    _loaded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, line_item_id),
    FOREIGN KEY (tenant, order_id) REFERENCES commerce.orders (tenant, order_id),
    FOREIGN KEY (tenant, product_id) REFERENCES commerce.products (tenant, product_id)
);
CREATE INDEX line_items_order ON commerce.line_items (tenant, order_id);
CREATE INDEX line_items_product ON commerce.line_items (tenant, product_id);

-- The ledger: one row per batch (partition), registered by the landing sensor and
-- updated by every asset of its run. It outlives Dagster's partitions.
CREATE TABLE ingest.files (
    partition_key text        PRIMARY KEY,
    uri           text        NOT NULL,
    tenant        text        NOT NULL,
    profile       text        NOT NULL,
    version       text        NOT NULL,
    landed_at     timestamptz NOT NULL,
    status        text        NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    rows_total    bigint,
    rows_done     bigint      NOT NULL DEFAULT 0,
    counts        jsonb       NOT NULL DEFAULT '{}',
    error         text,
    run_id        text,
    registered_at timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz
);
CREATE INDEX files_status ON ingest.files (status, registered_at);
CREATE INDEX files_uri ON ingest.files (uri);

CREATE TABLE ingest.rejects (
    partition_key text        NOT NULL,
    entity        text        NOT NULL,
    source_row    bigint      NOT NULL,
    errors        jsonb       NOT NULL,
    raw           jsonb       NOT NULL,
    rejected_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partition_key, entity, source_row)
);

-- Children whose parent is in neither the database nor their batch: kept (typed, as
-- JSON) until the parent arrives, or until they are old enough to become rejects.
CREATE TABLE ingest.held_rows (
    tenant        text        NOT NULL,
    entity        text        NOT NULL,
    key           text        NOT NULL,
    partition_key text        NOT NULL,
    source_row    bigint      NOT NULL,
    missing       text[]      NOT NULL,
    payload       jsonb       NOT NULL,
    updated_at    timestamptz NOT NULL,
    held_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, entity, key)
);
CREATE INDEX held_rows_age ON ingest.held_rows (held_at);
