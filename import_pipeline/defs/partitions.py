"""One dynamic partition per landed batch, added by the landing sensors."""

import dagster as dg

batches = dg.DynamicPartitionsDefinition(name="batches")
