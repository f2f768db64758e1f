"""Every count a run produces, as plain dataclasses the assets turn into metadata."""

from dataclasses import asdict, dataclass, field, fields


@dataclass(frozen=True)
class StageReport:
    """What staging did with one entity's slice of a batch."""

    entity: str
    rows_read: int = 0
    valid: int = 0
    rejected: int = 0
    duplicates: int = 0
    conflicting_keys: int = 0
    rejects_by_rule: dict[str, int] = field(default_factory=dict)


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
