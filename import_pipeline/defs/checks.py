"""Asset checks of entity loads: reject rate, held rows, referential integrity, and for
line items, order totals that match their lines (which apply is the entity spec's). The
results are built from the inputs the load that just ran computed (`load/checks.py`)."""

import dagster as dg

from import_pipeline.core.entities import Check, EntitySpec
from import_pipeline.core.report import percent
from import_pipeline.defs.partitions import batches
from import_pipeline.load.checks import CheckInput, HeldRows, Integrity, OrderTotals, RejectRate

DESCRIPTIONS = {
    Check.REJECT_RATE: "WARN when any row of the batch was rejected, ERROR above the "
    "batch's reject-rate threshold.",
    Check.HELD_ROWS: "WARN while rows of this entity that this batch held wait for a "
    "parent that has not arrived (ingest.held_rows).",
    Check.REFERENTIAL_INTEGRITY: "Every reference points at an existing parent row.",
    Check.ORDER_TOTALS: "WARN when an order touched by the batch has a total that differs "
    "from the sum of its line totals by more than 0.01 (ids in the metadata).",
}


def check_specs(spec: EntitySpec) -> list[dg.AssetCheckSpec]:
    """The Dagster checks of the entity: those its spec says apply."""
    return [
        dg.AssetCheckSpec(
            check.value, asset=spec.name, partitions_def=batches, description=DESCRIPTIONS[check]
        )
        for check in spec.checks
    ]


def reject_rate(
    spec: EntitySpec, rejected: int, reached: int, max_rate: float
) -> dg.AssetCheckResult:
    """Rejected rows (by its rules or by the database) of the rows that reached the
    entity's rules: skipped rows never dilute it."""
    return dg.AssetCheckResult(
        asset_key=spec.name,
        check_name=Check.REJECT_RATE.value,
        **_rate(rejected, reached, max_rate),
    )


def reject_rate_evaluation(
    spec: EntitySpec, rejected: int, reached: int, max_rate: float, partition: str
) -> dg.AssetCheckEvaluation:
    """The same judgement, logged by staging when the batch fails before the entity
    step runs: a batch with too many rejects shows its check as ERROR, not unevaluated."""
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey(spec.name),
        check_name=Check.REJECT_RATE.value,
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


def held_rows(spec: EntitySpec, held: HeldRows) -> dg.AssetCheckResult:
    """WARN while rows this batch held still wait; other batches' held rows are shown
    but judge their own batches."""
    return dg.AssetCheckResult(
        asset_key=spec.name,
        check_name=Check.HELD_ROWS.value,
        passed=held.waiting == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "held_by_this_batch": held.held_now,
            "still_held_from_this_batch": held.waiting,
            "held_outstanding_all_batches": held.outstanding,
            "oldest_held_at": held.oldest or "none",
        },
    )


def referential_integrity(spec: EntitySpec, integrity: Integrity) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=spec.name,
        check_name=Check.REFERENTIAL_INTEGRITY.value,
        passed=integrity.broken == 0,
        metadata={
            "orphan_rows": integrity.broken,
            "enforced_by_foreign_keys": not integrity.unenforced,
            "unenforced": ", ".join(integrity.unenforced) or "none",
        },
    )


def order_totals(spec: EntitySpec, totals: OrderTotals) -> dg.AssetCheckResult:
    """WARN when an order's total differs from the sum of its lines."""
    return dg.AssetCheckResult(
        asset_key=spec.name,
        check_name=Check.ORDER_TOTALS.value,
        passed=totals.mismatching == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "orders_checked": totals.checked,
            "skipped": totals.skipped or "no",
            "mismatching_orders": totals.mismatching,
            "sample": dg.MetadataValue.md(
                "\n".join(
                    ["| order_id | total | sum of lines |", "|---|---:|---:|"]
                    + [f"| {o} | {t} | {s} |" for o, t, s in totals.sample]
                )
                if totals.sample
                else "none"
            ),
        },
    )


def check_results(spec: EntitySpec, inputs: dict[Check, CheckInput]) -> list[dg.AssetCheckResult]:
    """The results of the entity's checks whose inputs a load computed, in the spec's order."""
    results = []
    for given in inputs.values():
        if isinstance(given, RejectRate):
            results.append(reject_rate(spec, given.rejected, given.reached, given.threshold))
        elif isinstance(given, HeldRows):
            results.append(held_rows(spec, given))
        elif isinstance(given, Integrity):
            results.append(referential_integrity(spec, given))
        elif isinstance(given, OrderTotals):
            results.append(order_totals(spec, given))
    return results
