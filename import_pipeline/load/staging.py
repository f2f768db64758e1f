"""What staging a batch writes to the ledger, below Dagster: its start, its progress and
drift, its rejects and accounting, and its end, each from plain arguments."""

from collections.abc import Callable
from contextlib import AbstractContextManager

from psycopg2.extensions import connection

from import_pipeline.core.drift import Drift
from import_pipeline.core.stage import StagedBatch
from import_pipeline.db import drift, ledger, report
from import_pipeline.db.ledger import Batch

STEP = "staged_batch"
"""The step's name in the ledger (and its asset's)."""


def start_batch(conn: connection, partition_key: str, run_id: str) -> Batch | None:
    """The batch as the landing sensors registered it, marked as staging by `run_id` with
    an earlier run's report forgotten; None when the ledger does not hold it."""
    batch = ledger.get(conn, partition_key)
    if batch is None:
        return None
    ledger.start(conn, partition_key, run_id)
    report.reset(conn, partition_key)
    return batch


def failures_recorded(
    connect: Callable[[], AbstractContextManager[connection]], partition_key: str, run_id: str
) -> AbstractContextManager[None]:
    """How the staging block ended abnormally, mirrored into the ledger (see db/ledger.py)."""
    return ledger.failures_recorded(connect, partition_key, run_id)


def record_progress(conn: connection, partition_key: str, read: int, validated: int) -> None:
    """Rows read and validated so far, while the batch stages."""
    report.staging_progress(conn, partition_key, read, validated)


def record_drift(conn: connection, partition_key: str, drifted: Drift) -> None:
    """The batch's drift, replacing what an earlier run judged."""
    drift.record(conn, partition_key, drifted.as_json())


def save_rejects(conn: connection, partition_key: str, staged: StagedBatch) -> None:
    """Each entity's rejected rows and the batch's keys in conflict, into Postgres."""
    for entity, part in staged.entities.items():
        ledger.save_rejects(conn, partition_key, entity, part.rejects())
    report.save_duplicates(conn, partition_key, staged.duplicates().collect_batches())


def record_accounting(
    conn: connection,
    partition_key: str,
    accounting: dict[str, dict],
    rejects_path: str | None,
    duplicates_path: str | None,
) -> None:
    """Every entity's rows accounted for, with where the rejects and duplicates CSVs are."""
    report.record(conn, partition_key, accounting, rejects_path, duplicates_path)


def finish_staging(
    conn: connection, partition_key: str, rows_staged: int, summary: dict[str, int | float]
) -> None:
    """The batch's total of staged rows and the step's summary, once it staged."""
    ledger.set_total(conn, partition_key, rows_staged)
    ledger.record(conn, partition_key, STEP, summary)
