"""One summary per batch: what staging and every entity load did with the batch's rows,
the files to download and the outcome, logged as the run's last event."""

import dagster as dg
from psycopg2.extensions import connection

from import_pipeline.core.entities import ENTITIES
from import_pipeline.db import ledger, report
from import_pipeline.defs import metadata

BATCH_ASSET = "staged_batch"
"""The asset the summary is an observation of: the batch itself."""


def batch_summary(
    conn: connection, partition_key: str, failure: Exception | None
) -> dg.AssetObservation:
    """The batch's summary table (entities the batch fed or changed), reject rate, files
    and outcome, from the ledger the steps wrote."""
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
    rejected = sum(r["rejected"] for r in rows.values())
    return dg.AssetObservation(
        asset_key=BATCH_ASSET,
        partition=partition_key,
        description=_outcome(failure, rows, rejected),
        metadata={
            "outcome": _outcome(failure, rows, rejected),
            "summary": metadata.summary_table(rows),
            "rejected": rejected,
            "held": sum(r.get("held", 0) for r in rows.values()),
            "rejects_file": dg.MetadataValue.path(outcome.get("rejects_file") or "no rejects"),
            "duplicates_file": dg.MetadataValue.path(
                outcome.get("duplicates_file") or "no conflicting duplicates"
            ),
        },
    )


def _outcome(failure: Exception | None, rows: dict[str, dict], rejected: int) -> str:
    """The outcome in one line: failed and why, or loaded and what needs a look."""
    if failure is not None:
        return f"failed: {failure}"
    notes = []
    if rejected:
        notes.append(f"{rejected} rows rejected (see rejects_file)")
    held = sum(r.get("held", 0) for r in rows.values())
    if held:
        notes.append(f"{held} rows held until their parent arrives")
    conflicts = sum(r.get("conflicting_keys", 0) for r in rows.values())
    if conflicts:
        notes.append(f"{conflicts} keys with conflicting versions (see duplicates_file)")
    return "loaded" + (": " + "; ".join(notes) if notes else ": every row")
