"""Asset checks of every entity load: reject rate, held rows, referential integrity, and
for orders, totals that match their lines. Results are built in the entity assets, from
the counts of the load that just ran."""

from collections.abc import Iterable, Sequence

import dagster as dg
import polars as pl
from psycopg2.extensions import connection

from import_pipeline.core.entities import LINE_ITEMS, EntitySpec
from import_pipeline.core.report import percent
from import_pipeline.db import checks
from import_pipeline.defs.partitions import batches

REJECT_RATE = "reject_rate"
HELD_ROWS = "held_rows"
REFERENTIAL_INTEGRITY = "referential_integrity"
ORDER_TOTALS = "order_totals_match_lines"


def check_specs(spec: EntitySpec) -> list[dg.AssetCheckSpec]:
    specs = [
        dg.AssetCheckSpec(
            REJECT_RATE,
            asset=spec.name,
            partitions_def=batches,
            description="WARN when any row of the batch was rejected, ERROR above the "
            "batch's reject-rate threshold.",
        )
    ]
    if spec.parents:
        specs += [
            dg.AssetCheckSpec(
                HELD_ROWS,
                asset=spec.name,
                partitions_def=batches,
                description="WARN while rows of this entity that this batch held wait for a "
                "parent that has not arrived (ingest.held_rows).",
            ),
            dg.AssetCheckSpec(
                REFERENTIAL_INTEGRITY,
                asset=spec.name,
                partitions_def=batches,
                description="Every reference points at an existing parent row.",
            ),
        ]
    if spec is LINE_ITEMS:
        specs.append(
            dg.AssetCheckSpec(
                ORDER_TOTALS,
                asset=spec.name,
                partitions_def=batches,
                description="WARN when an order touched by the batch has a total that differs "
                "from the sum of its line totals by more than 0.01 (ids in the metadata).",
            )
        )
    return specs


def reject_rate(
    spec: EntitySpec, rejected: int, reached: int, max_rate: float
) -> dg.AssetCheckResult:
    """Rejected rows (by its rules or by the database) of the rows that reached the
    entity's rules: skipped rows never dilute it."""
    return dg.AssetCheckResult(
        asset_key=spec.name, check_name=REJECT_RATE, **_rate(rejected, reached, max_rate)
    )


def reject_rate_evaluation(
    spec: EntitySpec, rejected: int, reached: int, max_rate: float, partition: str
) -> dg.AssetCheckEvaluation:
    """The same judgement, logged by staging when the batch fails before the entity
    step runs: a batch with too many rejects shows its check as ERROR, not unevaluated."""
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey(spec.name),
        check_name=REJECT_RATE,
        partition=partition,
        **_rate(rejected, reached, max_rate),
    )


def _rate(rejected: int, reached: int, max_rate: float) -> dict:
    rate = rejected / reached if reached else 0.0
    over = rate > max_rate
    return {
        "passed": rejected == 0,
        "severity": dg.AssetCheckSeverity.ERROR if over else dg.AssetCheckSeverity.WARN,
        "description": f"{rejected} of {reached} rows rejected ({percent(rate, max_rate)}), "
        f"{'above' if over else 'within'} the {percent(max_rate, max_rate)} threshold",
        "metadata": {
            "rejected": rejected,
            "reached_validation": reached,
            "reject_rate": round(rate, 6),
            "threshold": max_rate,
        },
    }


def held_rows(
    conn: connection, spec: EntitySpec, batch: str, tenant: str, held_now: int
) -> dg.AssetCheckResult:
    """WARN while rows this batch held still wait; other batches' held rows are shown
    but judge their own batches."""
    waiting = checks.held_of_batch(conn, batch, spec.name)
    outstanding, oldest = checks.held_outstanding(conn, tenant, spec.name)
    return dg.AssetCheckResult(
        asset_key=spec.name,
        check_name=HELD_ROWS,
        passed=waiting == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "held_by_this_batch": held_now,
            "still_held_from_this_batch": waiting,
            "held_outstanding_all_batches": outstanding,
            "oldest_held_at": oldest or "none",
        },
    )


def referential_integrity(conn: connection, spec: EntitySpec, tenant: str) -> dg.AssetCheckResult:
    unenforced = checks.unenforced_parents(conn, spec)
    broken = checks.orphans(conn, spec, tenant, unenforced) if unenforced else 0
    return dg.AssetCheckResult(
        asset_key=spec.name,
        check_name=REFERENTIAL_INTEGRITY,
        passed=broken == 0,
        metadata={
            "orphan_rows": broken,
            "enforced_by_foreign_keys": not unenforced,
            "unenforced": ", ".join(unenforced) or "none",
        },
    )


def order_totals(
    conns: Sequence[connection], tenant: str, order_ids: Iterable[pl.DataFrame]
) -> dg.AssetCheckResult:
    checked, count, sample = checks.order_total_mismatches(conns, tenant, order_ids)
    return _order_totals_result(checked, count, sample)


def order_totals_unchanged() -> dg.AssetCheckResult:
    """The batch changed no order and no line item: their totals are as the batches that
    wrote them left them, so summing every line again would only cost time."""
    return _order_totals_result(0, 0, [], skipped="no order or line item of this batch changed")


def _order_totals_result(
    checked: int, count: int, sample: list[tuple[str, str, str]], skipped: str = ""
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=LINE_ITEMS.name,
        check_name=ORDER_TOTALS,
        passed=count == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "orders_checked": checked,
            "skipped": skipped or "no",
            "mismatching_orders": count,
            "sample": dg.MetadataValue.md(
                "\n".join(
                    ["| order_id | total | sum of lines |", "|---|---:|---:|"]
                    + [f"| {o} | {t} | {s} |" for o, t, s in sample]
                )
                if sample
                else "none"
            ),
        },
    )
