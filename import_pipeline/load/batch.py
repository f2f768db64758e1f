"""What a batch's entity loads read and write around each entity's load (load/entity.py),
below Dagster: whether staging left them rows, which selected entities are idle, and how
a run's end is recorded for a batch it did not finish."""

from psycopg2.extensions import connection

from import_pipeline.core.entities import ENTITIES, LINE_ITEMS, ORDERS, EntitySpec
from import_pipeline.core.report import LoadCounts
from import_pipeline.db import held, ledger, report
from import_pipeline.load.staging import STEP


def staging_error(conn: connection, partition_key: str) -> str | None:
    """Why the batch was not staged (its ledger row's error), or None if it was."""
    row = ledger.outcome(conn, partition_key) or {}
    if STEP in (row.get("counts") or {}):
        return None
    return row.get("error") or f"{partition_key} was not staged (see ingest.files)"


def record_idle(conn: connection, partition_key: str, selected: list[EntitySpec]) -> set[str]:
    """Record as loaded, with nothing to count, the selected entities the batch feeds no
    row, whose tenant has none of their rows held and that have no check to run for it
    (line items check the totals of a batch's orders); return their names."""
    batch = ledger.get(conn, partition_key)
    if batch is None:
        return set()
    fed = report.accounting(conn, partition_key)
    with conn, conn.cursor() as cur:
        holding = held.entities_holding(cur, batch.tenant)
    idle = {
        e.name
        for e in selected
        if e.name not in fed
        and e.name not in holding
        and not (e is LINE_ITEMS and ORDERS.name in fed)
    }
    for name in idle:
        ledger.record(conn, partition_key, name, LoadCounts().as_dict())
    ledger.finish_if_complete(conn, partition_key, list(ENTITIES))
    return idle


def record_end(
    connect: ledger.Connect, partition_key: str, run_id: str, exc: BaseException
) -> None:
    """How `exc` ended the batch's run, in its ledger row (see db/ledger.py)."""
    ledger.record_end(connect, partition_key, run_id, exc)
