"""A staged batch's report as plain text (`import-pipeline validate`): the same figures a
run's metadata shows, so a file can be judged before it is dropped."""

import polars as pl

from import_pipeline.core.columns import ERRORS, ROW
from import_pipeline.core.dedupe import ENTITY, KEY, OUTCOME
from import_pipeline.core.report import percent
from import_pipeline.core.stage import StagedBatch

FIRST_ROWS = 10
HEADER = ("entity", "read", "staged", "rejected", "skipped", "duplicates", "reject rate")


def text_report(staged: StagedBatch, products: pl.DataFrame, profile: str, threshold: float) -> str:
    """Per entity the batch feeds: every row read accounted for and its reject rate;
    skipped rows by reason, rejects by rule, the first rejects, keys in conflict."""
    lines = [
        f"file: {staged.file_name}",
        f"profile: {profile}",
        f"rows read: {staged.rows_read}",
        f"rejected: {staged.rejected} of {staged.reached_validation} rows that reached "
        f"validation ({percent(staged.reject_rate, threshold)}; an entity fails above "
        f"{percent(threshold, threshold)})",
        "",
        f"{HEADER[0]:<12}" + "".join(f"{h:>12}" for h in HEADER[1:]),
    ]
    for name, part in staged.present.items():
        r = part.report
        counts = (r.rows_read, part.row_count, r.rejected, r.rows_skipped, r.duplicates)
        rate = percent(r.reject_rate, threshold)
        lines.append(f"{name:<12}" + "".join(f"{n:>12}" for n in counts) + f"{rate:>12}")
    skipped = [
        f"  {name}: {reason}: {n}"
        for name, part in staged.present.items()
        for reason, n in part.report.skipped.items()
    ]
    if skipped:
        lines += ["", "skipped rows by reason:", *skipped]
    shared = _shared_skus(products)
    if shared:
        lines.append(f"\nproducts sharing a SKU: {shared} (the database will reject them)")
    by_rule = staged.rejects_by_rule()
    if by_rule:
        lines += ["", "rejects by rule:", *[f"  {rule}: {n}" for rule, n in by_rule.items()]]
        lines += ["", f"first rejects (of {staged.rejected}):"]
        first = staged.rejects().head(FIRST_ROWS).collect()
        lines += [_reject_line(row) for row in first.to_dicts()]
    conflicts = staged.duplicates().head(FIRST_ROWS).collect()
    if conflicts.height:
        keys = sum(e.report.conflicting_keys for e in staged.entities.values())
        lines += ["", f"keys with conflicting versions (first rows of {keys} keys):"]
        lines += [_duplicate_line(row) for row in conflicts.to_dicts()]
    return "\n".join(lines) + "\n"


def _reject_line(row: dict) -> str:
    values = ", ".join(
        f"{k}={v!r}" for k, v in row.items() if k not in (ROW, ERRORS) and v is not None
    )
    return f"  row {row[ROW]}: {'; '.join(row[ERRORS])}: {values[:200]}"


def _duplicate_line(row: dict) -> str:
    values = ", ".join(
        f"{k}={v!r}"
        for k, v in row.items()
        if k not in (ENTITY, KEY, OUTCOME, ROW) and v is not None
    )
    return f"  {row[ENTITY]} {row[KEY]}: row {row[ROW]} {row[OUTCOME]}: {values[:200]}"


def _shared_skus(products: pl.DataFrame) -> int:
    rows = products.filter(pl.col("sku").is_not_null())
    return rows.height - rows["sku"].n_unique()
