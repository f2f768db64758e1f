"""Every count a run produces, as plain dataclasses the assets turn into metadata."""

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields

BLANK = "blank"
"""A skip reason: every cell of the source row is blank."""

SKIP_ROWS_WITHOUT = "skip_rows_without"
"""A skip reason: the profile's `skip_rows_without` columns are blank (not this entity's row)."""

ONE_ROW_PER = "one_row_per"
"""A skip reason: folded into its group's first row by the profile's `one_row_per`."""

PARTIAL_FIELDS = "partial_fields"
"""In an entity's accounting: the fields whose blank value keeps the stored one (the
load's COALESCE); empty for whole-row replacement."""


@dataclass(frozen=True)
class StageReport:
    """What staging did with one entity's slice of a batch. Every source row the entity
    read is accounted for: read = valid + rejected + skipped, valid = staged + duplicates."""

    entity: str
    rows_read: int = 0
    valid: int = 0
    rejected: int = 0
    duplicates: int = 0
    conflicting_keys: int = 0
    staged: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    rejects_by_rule: dict[str, int] = field(default_factory=dict)

    @property
    def reached_validation(self) -> int:
        """The rows the entity's rules judged: the reject rate's denominator, so blank or
        skipped rows never dilute it."""
        return self.valid + self.rejected

    @property
    def reject_rate(self) -> float:
        reached = self.reached_validation
        return self.rejected / reached if reached else 0.0

    @property
    def rows_skipped(self) -> int:
        return sum(self.skipped.values())

    def accounting(self) -> dict[str, int | float | dict[str, int]]:
        """The entity's rows as the ledger and the run report show them."""
        return {
            "read": self.rows_read,
            "staged": self.staged,
            "rejected": self.rejected,
            "skipped": self.rows_skipped,
            "duplicates": self.duplicates,
            "conflicting_keys": self.conflicting_keys,
            "reject_rate": round(self.reject_rate, 6),
            "skipped_by_reason": dict(self.skipped),
        }


def percent(rate: float, threshold: float) -> str:
    """`rate` as a percentage with as many decimals as it takes to differ from
    `threshold` (up to 6), so a rate just above the threshold never reads as equal to it:
    `10.001 %`, not `10.0 %`."""
    for decimals in range(1, 7):
        shown = f"{rate * 100:.{decimals}f}"
        if rate == threshold or shown != f"{threshold * 100:.{decimals}f}":
            return f"{shown} %"
    return f"{rate * 100:.6f} %"


@dataclass(frozen=True)
class LoadCounts:
    """What the upsert did with one entity's staged rows; adds up across chunks."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    held: int = 0
    resolved: int = 0
    expired: int = 0
    rejected: int = 0

    def __add__(self, other: "LoadCounts") -> "LoadCounts":
        return LoadCounts(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def summed(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    """Counts per rule (or reason) added up, the most frequent first."""
    totals: dict[str, int] = {}
    for each in counts:
        for rule, n in each.items():
            totals[rule] = totals.get(rule, 0) + n
    return dict(sorted(totals.items(), key=lambda item: -item[1]))
