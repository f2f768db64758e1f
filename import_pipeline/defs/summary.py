"""One summary per batch: what staging and every entity load did with the batch's rows,
the files to download and the outcome, logged as the run's last event."""

from urllib.parse import unquote

import dagster as dg
from psycopg2.extensions import connection

from import_pipeline.defs import metadata
from import_pipeline.load.summary import batch_accounting, files_of_run

BATCH_ASSET = "staged_batch"
"""The asset the summary is an observation of: the batch itself."""


def batch_summary(
    conn: connection, partition_key: str, failure: Exception | None
) -> dg.AssetObservation:
    """The batch's summary table (entities the batch fed or changed), reject rate, files
    and outcome, from the ledger the steps wrote."""
    accounting = batch_accounting(conn, partition_key)
    rows = accounting.entities
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
            "rejects_file": dg.MetadataValue.path(accounting.rejects_file or "no rejects"),
            "duplicates_file": dg.MetadataValue.path(
                accounting.duplicates_file or "no conflicting duplicates"
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


class FilesFailed(dg.Failure):
    """Files of a run of many failed; each one's error is in its ledger row and in the
    run's table of files."""

    def __init__(self, failures: dict[str, Exception]) -> None:
        listed = "; ".join(f"{key}: {error}" for key, error in failures.items())
        super().__init__(
            description=f"{len(failures)} file(s) of this run failed (the others loaded): "
            + (listed if len(listed) <= 2000 else listed[:2000] + " ..."),
            allow_retries=False,
        )


def run_files(conn: connection, partition_keys: list[str]) -> dg.AssetObservation:
    """The run's files on one table, a file a row: its entities, rows read, rows rejected
    and outcome; each file's own report is its partition's (search by the file's name)."""
    rows = files_of_run(conn, partition_keys)
    failed = sum(r["status"] != "succeeded" for r in rows)
    records = [
        dg.TableRecord(
            {
                "file": unquote(r["uri"].rstrip("/").rsplit("/", 1)[-1]),
                "partition": r["partition_key"],
                "entity": ", ".join(r["entities"]) or "-",
                "rows": int(r["rows"]),
                "rejects": int(r["rejects"]),
                "outcome": r["status"] if r["error"] is None else f"{r['status']}: {r['error']}",
            }
        )
        for r in rows
    ]
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn("file", "string"),
            dg.TableColumn("partition", "string"),
            dg.TableColumn("entity", "string"),
            dg.TableColumn("rows", "int"),
            dg.TableColumn("rejects", "int"),
            dg.TableColumn("outcome", "string"),
        ]
    )
    outcome = f"{len(rows) - failed} of {len(rows)} files loaded" + (
        f", {failed} failed" if failed else ""
    )
    return dg.AssetObservation(
        asset_key=BATCH_ASSET,
        description=outcome,
        metadata={
            "outcome": outcome,
            "run_files": dg.MetadataValue.table(records=records, schema=schema),
            "files_loaded": len(rows) - failed,
            "files_failed": failed,
        },
    )
