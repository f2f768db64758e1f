"""Reports -> Dagster metadata: numbers as numbers (the UI plots them), previews as tables."""

import dagster as dg
import polars as pl

from import_pipeline.core.columns import ERRORS, ROW
from import_pipeline.core.dedupe import ENTITY, KEY, OUTCOME
from import_pipeline.core.report import PARTIAL_FIELDS, LoadCounts
from import_pipeline.core.stage import StagedBatch

PREVIEW_ROWS = 20

Metadata = dict[str, dg.MetadataValue | int | float | str]

STAGE_COLUMNS = ("read", "staged", "rejected", "skipped", "duplicates")
LOAD_COLUMNS = ("inserted", "updated", "unchanged", "stale", "held", "resolved")


def stage_metadata(staged: StagedBatch) -> Metadata:
    """Per entity the batch feeds: every row read accounted for (staged, rejected,
    skipped, duplicates), the keys in conflict and the entity's reject rate. Entities the
    batch does not feed get no keys, so their plots do not gain zeros."""
    values: Metadata = {}
    for entity, part in staged.present.items():
        for name, value in part.report.accounting().items():
            if not isinstance(value, dict):
                values[f"{entity}/{name}"] = value
    return values


def lookup_metadata(staged: StagedBatch) -> Metadata:
    """Per lookup of the batch's profiles: `lookup/<name>/misses` (a number, plotted) and a
    table of the misses with a few keys the reference table lacks."""
    if not staged.lookup_misses:
        return {}
    lines = ["| lookup | misses | keys missed (first few) |", "|---|---:|---|"]
    lines += [
        f"| {name} | {m.count} | {', '.join(f'`{k}`' for k in m.examples)} |"
        for name, m in staged.lookup_misses.items()
    ]
    return {
        **{f"lookup/{name}/misses": m.count for name, m in staged.lookup_misses.items()},
        "lookup_misses": dg.MetadataValue.md("\n".join(lines)),
    }


def partial_rows(accounting: dict[str, dict]) -> str:
    """How newer rows replace stored ones, per entity the batch feeds: `whole rows`, or the
    fields whose blank incoming value keeps the stored one."""
    return "; ".join(
        f"{entity}: "
        + (", ".join(row[PARTIAL_FIELDS]) if row.get(PARTIAL_FIELDS) else "whole rows")
        for entity, row in accounting.items()
    )


def skipped_by_reason(staged: StagedBatch) -> dg.MetadataValue:
    lines = ["| entity | reason | rows |", "|---|---|---:|"]
    lines += [
        f"| {entity} | `{reason}` | {n} |"
        for entity, part in staged.present.items()
        for reason, n in part.report.skipped.items()
    ]
    return dg.MetadataValue.md("\n".join(lines) if len(lines) > 2 else "no rows skipped")


def load_metadata(staged: int, counts: LoadCounts, seconds: float) -> Metadata:
    values: Metadata = {"rows_staged": staged, **counts.as_dict()}
    values["rejected_by_database"] = values.pop("rejected")
    return {
        **values,
        "dagster/row_count": staged,
        "duration_s": round(seconds, 3),
        "rows_per_s": round(staged / seconds, 1) if seconds > 0 else 0.0,
    }


def summary_table(rows: dict[str, dict]) -> dg.MetadataValue:
    """The batch on one table, an entity a row: what staging and the load did with its
    rows (the load's columns stay empty until it ran)."""
    columns = [*STAGE_COLUMNS, "reject_rate", *LOAD_COLUMNS]
    records = [
        dg.TableRecord({"entity": entity, **{c: _cell(row.get(c)) for c in columns}})
        for entity, row in rows.items()
    ]
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn("entity", "string"),
            *[dg.TableColumn(c, "float" if c == "reject_rate" else "int") for c in columns],
        ]
    )
    return dg.MetadataValue.table(records=records, schema=schema)


def _cell(value: int | float | None) -> int | float | str:
    """A table cell: every record needs every column; a count not known yet is blank."""
    return "" if value is None else value


def file_link(path: str | None, link: str | None, nothing: str) -> dg.MetadataValue:
    """A staged file as a presigned link when there is one, else its path."""
    if link:
        return dg.MetadataValue.url(link)
    return dg.MetadataValue.path(path or nothing)


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
                "values": _values(row, raw),
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


def duplicates_preview(duplicates: pl.DataFrame) -> dg.MetadataValue:
    """The first versions of keys in conflict: which was kept, which dropped, and their
    values."""
    if duplicates.height == 0:
        return dg.MetadataValue.md("no conflicting duplicates")
    head = duplicates.head(PREVIEW_ROWS)
    fields = [c for c in head.columns if c not in (ENTITY, KEY, OUTCOME, ROW)]
    records = [
        dg.TableRecord(
            {
                "entity": row[ENTITY],
                "key": row[KEY],
                "version": row[OUTCOME],
                "row": row[ROW],
                "values": _values(row, fields),
            }
        )
        for row in head.iter_rows(named=True)
    ]
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn("entity", "string"),
            dg.TableColumn("key", "string"),
            dg.TableColumn("version", "string"),
            dg.TableColumn("row", "int"),
            dg.TableColumn("values", "string"),
        ]
    )
    return dg.MetadataValue.table(records=records, schema=schema)


def _values(row: dict, columns: list[str]) -> str:
    return ", ".join(f"{c}={row[c]!r}" for c in columns if row[c] is not None)[:500]
