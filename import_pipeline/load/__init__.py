"""The steps' work on the database and the store (an entity's load, staging's ledger writes
and files, a purge), from plain arguments below Dagster."""
