-- A product's quality score (0-100, see import_pipeline/core/quality.py): computed by the
-- pipeline from the listing's completeness, so weak listings can be found with SQL.
ALTER TABLE commerce.products
    ADD COLUMN quality_score bigint CHECK (quality_score BETWEEN 0 AND 100);
