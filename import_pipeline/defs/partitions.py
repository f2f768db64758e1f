"""One dynamic partition per landed batch, added by the landing sensors; a run loads one
batch or a range of them (the partitions a sensor tick added together, in order)."""

import dagster as dg

batches = dg.DynamicPartitionsDefinition(name="batches")

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def range_tags(first: str, last: str) -> dict[str, str]:
    """The run tags of a run over the batches `first` .. `last` (in the order they were
    added as partitions)."""
    return {RANGE_START_TAG: first, RANGE_END_TAG: last}


def run_batch_keys(tags: dict[str, str], instance: dg.DagsterInstance) -> list[str]:
    """The batches a run loads, from its tags: its partition, or every partition of its
    range; none for a run that is not partitioned."""
    if PARTITION_TAG in tags:
        return [tags[PARTITION_TAG]]
    if RANGE_START_TAG not in tags or RANGE_END_TAG not in tags:
        return []
    keys = instance.get_dynamic_partitions(batches.name)
    start, end = keys.index(tags[RANGE_START_TAG]), keys.index(tags[RANGE_END_TAG])
    return keys[start : end + 1]
