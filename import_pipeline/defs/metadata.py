"""Reports -> Dagster metadata: numbers as numbers (the UI plots them), previews as tables."""

import dagster as dg
import polars as pl

from import_pipeline.core.parse import ROW
from import_pipeline.core.report import LoadCounts
from import_pipeline.core.stage import StagedBatch
from import_pipeline.core.validate import ERRORS

PREVIEW_ROWS = 20

Metadata = dict[str, dg.MetadataValue | int | float | str]


def stage_metadata(staged: StagedBatch) -> Metadata:
    """Per entity: rows read, valid, rejected, duplicates dropped, keys in conflict."""
    values: Metadata = {}
    for entity, part in staged.entities.items():
        report = part.report
        values[f"{entity}/rows_read"] = report.rows_read
        values[f"{entity}/valid"] = report.valid
        values[f"{entity}/rejected"] = report.rejected
        values[f"{entity}/duplicates"] = report.duplicates
        values[f"{entity}/conflicting_keys"] = report.conflicting_keys
    return values


def load_metadata(staged: int, counts: LoadCounts, seconds: float) -> Metadata:
    return {
        "rows_staged": staged,
        **counts.as_dict(),
        "dagster/row_count": staged,
        "duration_s": round(seconds, 3),
        "rows_per_s": round(staged / seconds, 1) if seconds > 0 else 0.0,
    }


def rejects_by_rule(counts: dict[str, int]) -> dg.MetadataValue:
    lines = ["| rule | rows |", "|---|---:|", *[f"| `{r}` | {n} |" for r, n in counts.items()]]
    return dg.MetadataValue.md("\n".join(lines) if counts else "no rejects")


def rejects_preview(rejects: pl.DataFrame) -> dg.MetadataValue:
    """The first rejects with their row number, broken rules and raw values."""
    if rejects.height == 0:
        return dg.MetadataValue.md("no rejects")
    head = rejects.head(PREVIEW_ROWS)
    raw = [c for c in head.columns if c not in (ROW, ERRORS)]
    records = [
        dg.TableRecord(
            {
                "row": row[ROW],
                "errors": "; ".join(row[ERRORS]),
                "values": ", ".join(f"{c}={row[c]!r}" for c in raw if row[c] is not None)[:500],
            }
        )
        for row in head.iter_rows(named=True)
    ]
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn("row", "int"),
            dg.TableColumn("errors", "string"),
            dg.TableColumn("values", "string"),
        ]
    )
    return dg.MetadataValue.table(records=records, schema=schema)
