"""The reject threshold, judged per entity over the rows its rules judged."""

from import_pipeline.core.errors import TooManyRejects
from import_pipeline.core.report import percent
from import_pipeline.core.stage import StagedBatch

FIX = (
    "Fix the export (the rejected rows and the rules they break are in rejects.csv and "
    "ingest.rejects), or raise the threshold."
)


def too_many_rejects(batch: StagedBatch, max_rate: float, fix: str = FIX) -> TooManyRejects | None:
    """The error the batch fails with when an entity's reject rate is above `max_rate`: a
    file that bad is more likely a wrong export than a few bad rows, and loading its
    remainder would mislead. The rate is over the rows that reached the entity's rules,
    so blank or skipped rows can never dilute it."""
    over = [
        (name, part.report)
        for name, part in batch.entities.items()
        if part.report.reject_rate > max_rate
    ]
    if not over:
        return None
    problems = []
    for name, report in over:
        skipped = f", {report.rows_skipped} more rows skipped" if report.rows_skipped else ""
        problems.append(
            f"{name}: {report.rejected} of {report.reached_validation} rows "
            f"({percent(report.reject_rate, max_rate)}) break validation rules{skipped}"
        )
    return TooManyRejects(
        batch.file_name,
        f"{'; '.join(problems)}; the threshold is {percent(max_rate, max_rate)}",
        fix,
    )


def check_reject_rate(batch: StagedBatch, max_rate: float, fix: str = FIX) -> None:
    """Raise `too_many_rejects`'s error, if there is one."""
    error = too_many_rejects(batch, max_rate, fix)
    if error is not None:
        raise error
