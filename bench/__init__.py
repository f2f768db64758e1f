"""The benchmark: a deterministic data generator, baselines (raw COPY, seed-style pandas +
SQLAlchemy upsert, dlt) and a runner that loads the same drop through import_pipeline's
Dagster job and writes the comparison to `bench/RESULTS.md`. Run it with `make bench`."""
