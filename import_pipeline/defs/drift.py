"""Schema drift in `staged_batch`: each file's first rows judged against its profile, the
result in the ledger, the metadata and the batch's `schema_drift` check (core/drift.py)."""

import dagster as dg
import polars as pl

from import_pipeline.core.batch_profiles import BatchProfiles
from import_pipeline.core.drift import (
    SAMPLE_ROWS,
    Drift,
    DriftPolicy,
    SchemaDrift,
    column_drift,
    expected,
    policy_of,
    type_drift,
)
from import_pipeline.core.entities import ENTITIES
from import_pipeline.core.stage import StagedBatch
from import_pipeline.defs.partitions import batches

SCHEMA_DRIFT = "schema_drift"

CHECK = dg.AssetCheckSpec(
    SCHEMA_DRIFT,
    asset="staged_batch",
    partitions_def=batches,
    description="The batch's files have the columns and types their profile expects; drift "
    "warns, or fails the batch where the profile says `on_drift: fail`.",
)


class FirstRows:
    """Keeps each file's first rows as reading meets them."""

    def __init__(self) -> None:
        self.samples: dict[str, pl.DataFrame] = {}

    def __call__(self, file_name: str, rows: pl.DataFrame) -> None:
        self.samples.setdefault(file_name, rows.head(SAMPLE_ROWS))


def judge(
    profiles: BatchProfiles,
    policies: dict[str, DriftPolicy],
    first_rows: FirstRows,
    read: StagedBatch,
) -> Drift:
    """The batch's drift: each file's columns against its own profile, each entity's types
    against the batch's `policies` (`profiles.drift()`)."""
    columns = []
    for file_name, sample in first_rows.samples.items():
        profile = profiles[file_name]
        rename = profile.mapping.rename if profile.mapping else {}
        wanted = expected(profile.mapping, file_name)
        if wanted is None:
            continue
        vary = {c for e in wanted.entities for c in policy_of(profile.drift, e).may_vary}
        columns.append(column_drift(file_name, sample, wanted, rename, vary))
    types = []
    for name, part in read.present.items():
        vary = {c.lower() for c in policy_of(policies, name).may_vary}
        found = type_drift(
            ENTITIES[name], part.report.rejects_by_rule, part.report.reached_validation
        )
        types += [t for t in found if t.field.lower() not in vary]
    return Drift(tuple(columns), tuple(types))


def refusal(drift: Drift, policies: dict[str, DriftPolicy], batch: str) -> SchemaDrift | None:
    """The error that fails the batch, when an entity whose policy is `fail` drifted."""
    failing = drift.failing(policies)
    if not failing:
        return None
    return SchemaDrift(
        batch,
        f"its columns or types drifted from its profile ({'; '.join(drift.words())}), and "
        f"the profile fails drift of {', '.join(failing)}",
        "Fix the export, or update the profile (a new mapping, `may_vary` for columns that "
        "come and go, or `on_drift: warn`).",
    )


def metadata(drift: Drift) -> dict[str, dg.MetadataValue | int]:
    return {
        "drift/files": sum(1 for c in drift.columns if c.drifted),
        "drift/type_changed": len(drift.types),
        "drift": dg.MetadataValue.json(drift.as_json()),
    }


def _judgement(drift: Drift, policies: dict[str, DriftPolicy]) -> dict:
    failing = drift.failing(policies)
    return {
        "passed": not drift.drifted,
        "severity": dg.AssetCheckSeverity.ERROR if failing else dg.AssetCheckSeverity.WARN,
        "description": "; ".join(drift.words()) or "no drift from the profile",
        "metadata": metadata(drift),
    }


def check_result(drift: Drift, policies: dict[str, DriftPolicy]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(check_name=SCHEMA_DRIFT, **_judgement(drift, policies))


def evaluation(
    drift: Drift, policies: dict[str, DriftPolicy], partition: str
) -> dg.AssetCheckEvaluation:
    """The same judgement, logged when the batch fails before it materialises."""
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey("staged_batch"),
        check_name=SCHEMA_DRIFT,
        partition=partition,
        **_judgement(drift, policies),
    )
