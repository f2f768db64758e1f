"""One row of figures per scenario, and the table the suite prints."""

from dataclasses import dataclass, field

from faults.tables import Difference


@dataclass
class Figure:
    """What a scenario did and what it found against its clean load."""

    scenario: str
    trials: int = 0
    faults: str = ""
    rows: int = 0
    difference: Difference = field(default_factory=Difference)
    ledger: str = ""
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    """Expectations that did not hold besides lost / duplicated / wrong rows."""

    @property
    def passed(self) -> bool:
        return self.difference.clean and not self.failures


HEADER = (
    "| scenario | trials | faults injected | rows compared | lost | duplicated | wrong "
    "| ledger's final word | s | verdict |"
)


def table(figures: list[Figure]) -> str:
    lines = [HEADER, "|---|---:|---|---:|---:|---:|---:|---|---:|---|"]
    for f in figures:
        d = f.difference
        verdict = "ok" if f.passed else f"FAILED ({len(d.details) + len(f.failures)})"
        lines.append(
            f"| {f.scenario} | {f.trials} | {f.faults} | {f.rows:,} | {d.lost} | {d.duplicated}"
            f" | {d.wrong} | {f.ledger} | {f.seconds:.0f} | {verdict} |"
        )
    return "\n".join(lines)


def problems(figures: list[Figure]) -> list[str]:
    """Every difference and failed expectation, named by scenario."""
    return [f"{f.scenario}: {line}" for f in figures for line in f.difference.details + f.failures]
