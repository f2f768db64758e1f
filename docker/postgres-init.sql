-- Two databases on one server: `dagster` (Dagster's runs, events, schedules; the image
-- creates it from POSTGRES_DB) and `imports` (commerce + ingest, migrated by the code).
CREATE DATABASE imports;
