"""The database sequences of the steps (an entity's load, staging's ledger writes, a purge),
from plain arguments below Dagster."""
