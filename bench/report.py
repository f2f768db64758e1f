"""The results table (Markdown), with the machine, the versions and the command, so a
figure in RESULTS.md can always be traced to what produced it."""

import os
import platform
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from bench.generate import ENTITY_ORDER

STEPS = ("staged_batch", "load_entities")


@dataclass
class Row:
    """One measured loader (or one phase of ours)."""

    loader: str
    rows: int
    wall_s: float
    peak_rss_mb: float
    cpu_s: float
    notes: list[str] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    measured_rows: int | None = None
    measured_wall_s: float | None = None
    setup_s: float = 0.0

    @property
    def rows_per_s(self) -> float:
        rows = self.measured_rows or self.rows
        wall = self.measured_wall_s or self.wall_s
        return rows / wall if wall else 0.0

    @property
    def extrapolated(self) -> bool:
        return self.measured_rows is not None


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        ram = f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
    except ImportError:
        ram = "unknown"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return {
        "load average (1, 5, 15 min) when written": load,
        "nproc": str(os.cpu_count()),
        "RAM": ram,
        "CPU": cpu,
        "OS": platform.platform(),
    }


def versions(server_version: str) -> dict[str, str]:
    found = {"python": sys.version.split()[0], "postgres server": server_version}
    for package in ("polars", "dagster", "psycopg2-binary", "pandas", "sqlalchemy", "dlt"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def source() -> str:
    """The commit measured, and whether the package had uncommitted changes; a snapshot
    of the package (outside git) names its commit in BENCH_SOURCE_COMMIT."""
    if os.environ.get("BENCH_SOURCE_COMMIT"):
        return os.environ["BENCH_SOURCE_COMMIT"]
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "import_pipeline"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" with uncommitted changes in import_pipeline/" if dirty else "")


def command(argv: list[str], module: str = "bench.run") -> str:
    return shlex.join([".venv/bin/python", "-m", module, *argv])


def table(rows: list[Row]) -> str:
    copy = next((r for r in rows if r.loader == "raw COPY"), None)
    lines = [
        "| loader | rows | wall s | rows/s | x raw COPY | peak RSS MB | Python CPU s | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        ratio = f"{row.rows_per_s / copy.rows_per_s:.2f}x" if copy and copy.rows_per_s else "n/a"
        wall = f"~{row.wall_s:,.1f}" if row.extrapolated else f"{row.wall_s:,.1f}"
        lines.append(
            f"| {row.loader} | {row.rows:,} | {wall} | {row.rows_per_s:,.0f} | {ratio} "
            f"| {row.peak_rss_mb:,.0f} | {row.cpu_s:,.1f} | {'; '.join(row.notes)} |"
        )
    return "\n".join(lines)


def phase_table(rows: list[Row]) -> str:
    """Where the wall time goes: per table for raw COPY; for ours the sensor tick, each
    step and Dagster's share around the steps, then each entity's load inside the
    load_entities step (these overlap, so they are not part of the sum)."""
    ours = [r for r in rows if r.phases]
    if not ours:
        return ""
    names = ["sensor tick", *STEPS, "dagster run overhead", *ENTITY_ORDER]
    names += sorted({p for r in ours for p in r.phases} - set(names))
    header = "| phase | " + " | ".join(r.loader for r in ours) + " |"
    lines = [header, "|---|" + "---:|" * len(ours)]
    for name in names:
        cells = []
        for row in ours:
            seconds = row.phases.get(name, 0.0)
            share = seconds / row.wall_s if row.wall_s else 0.0
            cells.append(f"{seconds:,.2f} s ({share:.0%})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    rest = [r.wall_s - sum(v for k, v in r.phases.items() if k not in _inside(r)) for r in ours]
    cells = [f"{s:,.2f} s ({s / r.wall_s:.0%})" for s, r in zip(rest, ours, strict=True)]
    lines.append("| rest of the wall time | " + " | ".join(cells) + " |")
    cells = [f"{r.setup_s:,.2f} s" for r in ours]
    lines.append("| setup: definitions + instance (not in wall) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _inside(row: Row) -> set[str]:
    """The phases that are parts of a step, not beside it: ours' entity loads."""
    return set(ENTITY_ORDER) if "load_entities" in row.phases else set()


def produced_by(argv: list[str], module: str = "bench.run") -> str:
    """When a results file was written, and the command that wrote it."""
    return f"Produced {datetime.now(UTC):%Y-%m-%d %H:%M UTC} by\n\n    {command(argv, module)}"


def machine_and_versions(server_version: str) -> str:
    """A results file's closing section."""
    facts = "\n".join(f"- {k}: {v}" for k, v in machine().items())
    packages = ", ".join(f"{k} {v}" for k, v in versions(server_version).items())
    return f"## Machine and versions\n\n{facts}\n- versions: {packages}\n"


def markdown(rows: list[Row], argv: list[str], server_version: str, drop_note: str) -> str:
    return f"""# Benchmark results

{produced_by(argv)}

Drop: {drop_note}. Source measured: {source()}.

{table(rows)}

`x raw COPY` is throughput (rows/s) relative to raw COPY into the same keyed tables with
FKs. `~` marks a wall time extrapolated from a smaller slice at the measured rate. Peak
RSS and CPU are those of the measuring Python process alone (a fresh process per row;
Postgres's own memory and CPU are not included). Rows are all rows of the four files.

## Where import_pipeline's wall time goes

For raw COPY, seconds per table. For import_pipeline, step times are from the run's event
log (start to success of each step); "dagster run overhead" is run wall time minus its
steps; the entity rows are each entity's load inside the load_entities step (its
`duration_s`: customers and products load side by side, so these overlap and are not
added to the rest). Percentages are of each column's wall time.

{phase_table(rows)}

{machine_and_versions(server_version)}"""
