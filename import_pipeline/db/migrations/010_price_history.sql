-- Price and stock history: when a load changes a product's price or stock, the previous
-- and the new value, the version (the row's updated_at) and the batch are written by a
-- trigger, in the same transaction as the change. A load that changes nothing (a re-load,
-- an older file refused as stale, a fingerprint refresh) updates no price or stock, so it
-- writes nothing.
ALTER TABLE commerce.products ADD COLUMN stock bigint;

CREATE TABLE commerce.product_history (
    tenant      text          NOT NULL,
    product_id  text          NOT NULL,
    version     timestamptz   NOT NULL,
    _batch      text          NOT NULL,
    old_price   numeric(18,4),
    new_price   numeric(18,4),
    old_stock   bigint,
    new_stock   bigint,
    changed_at  timestamptz   NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant, product_id)
        REFERENCES commerce.products (tenant, product_id) ON DELETE CASCADE
);
CREATE INDEX product_history_product ON commerce.product_history (tenant, product_id, version);
CREATE INDEX product_history_batch ON commerce.product_history (_batch);

CREATE FUNCTION commerce.record_product_history() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO commerce.product_history
        (tenant, product_id, version, _batch, old_price, new_price, old_stock, new_stock)
    VALUES (NEW.tenant, NEW.product_id, NEW.updated_at, NEW._batch,
            OLD.price, NEW.price, OLD.stock, NEW.stock);
    RETURN NULL;
END
$$;

CREATE TRIGGER products_history AFTER UPDATE OF price, stock ON commerce.products
    FOR EACH ROW
    WHEN (OLD.price IS DISTINCT FROM NEW.price OR OLD.stock IS DISTINCT FROM NEW.stock)
    EXECUTE FUNCTION commerce.record_product_history();
