"""What a batch's summary and a run's table of files read, below Dagster: the ledger's
outcome and staging's accounting, merged per entity."""

from dataclasses import dataclass

from psycopg2.extensions import connection

from import_pipeline.core.entities import ENTITIES
from import_pipeline.db import ledger, report


@dataclass(frozen=True)
class BatchAccounting:
    """Per entity the batch fed or changed, what staging and its load did with the rows;
    and the files to download."""

    entities: dict[str, dict]
    rejects_file: str | None
    duplicates_file: str | None


def batch_accounting(conn: connection, partition_key: str) -> BatchAccounting:
    """The batch's rows per entity from the ledger the steps wrote; an entity is left out
    when staging did not feed it and its load resolved or expired no held rows."""
    outcome = ledger.outcome(conn, partition_key) or {}
    accounting = report.accounting(conn, partition_key)
    counts = outcome.get("counts") or {}
    rows: dict[str, dict] = {}
    for entity in ENTITIES:
        staged, loaded = accounting.get(entity), counts.get(entity) or {}
        if staged is None and not (loaded.get("resolved") or loaded.get("expired")):
            continue
        row = {**(staged or {}), **loaded}
        row["rejected"] = (staged or {}).get("rejected", 0) + loaded.get("rejected", 0)
        rows[entity] = row
    return BatchAccounting(rows, outcome.get("rejects_file"), outcome.get("duplicates_file"))


def files_of_run(conn: connection, partition_keys: list[str]) -> list[dict]:
    """Each of the run's files (a batch each): uri, partition, entities, rows, rejects,
    status and error."""
    return report.batches(conn, partition_keys, list(ENTITIES))
