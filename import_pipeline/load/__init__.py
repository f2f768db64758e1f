"""The load of one entity's staged rows, sequenced from plain arguments below Dagster."""
