-- A product's barcode (GTIN, checked when staged) and brand. A barcode, like a SKU, names
-- one product of a tenant: the second product to claim it is refused as a reject.
ALTER TABLE commerce.products ADD COLUMN barcode text, ADD COLUMN brand text;
ALTER TABLE commerce.products
    ADD CONSTRAINT products_barcode_unique UNIQUE (tenant, barcode);
