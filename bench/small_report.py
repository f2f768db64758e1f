"""The small-files benchmark's results: what each mode measured, and its Markdown."""

import statistics
from dataclasses import dataclass, field

from bench import report

TARGET_S = 15.0
"""The issue's bound on a one-row file's landing-to-loaded time (5 s sensor interval)."""
TARGET_P50_S = 8.0
BURST_GOALS_S = {200: 30.0, 1000: 120.0}
"""The issue's goals for a burst of one-row files, all loaded."""
ENDED = ("succeeded", "failed")
HEADER = (
    f"| mode | singles p50 s | p95 s | within {TARGET_S:g} s "
    "| bursts (files: s until all loaded, runs) | run process start s (median) "
    "| run start -> first step s |\n|---|---:|---:|---:|---|---:|---:|"
)


@dataclass
class Landed:
    """One dropped file: when it was written, and the ledger's times for its batch."""

    name: str
    uri: str
    written: float
    status: str = ""
    seen: float | None = None
    started: float | None = None
    finished: float | None = None

    @property
    def latency(self) -> float | None:
        """Seconds from writing to the batch's end; None while it has not ended."""
        return None if self.finished is None else self.finished - self.written


@dataclass
class Burst:
    """What dropping many files at once did."""

    files: list[Landed]
    max_running: int = 0
    max_queued: int = 0
    peak_dagster_mb: float = 0.0
    peak_postgres_mb: float | None = None
    timed_out: bool = False
    runs: int = 0
    failed_runs: int = 0

    @property
    def wall_s(self) -> float:
        """Seconds from the drop to the last batch that ended."""
        return max((f.latency for f in self.files if f.latency is not None), default=0.0)

    @property
    def first_s(self) -> float:
        """Seconds from the drop to the first batch that ended: the burst's first run,
        which the issue wants no later than one run after a lone file would load."""
        return min((f.latency for f in self.files if f.latency is not None), default=0.0)

    @property
    def ended(self) -> int:
        return sum(f.status in ENDED for f in self.files)


@dataclass
class RunStart:
    """What one run cost before its first step did any work."""

    process_s: float
    to_first_step_s: float


@dataclass
class ModeResult:
    """Everything one mode measured: the singles' latencies, the bursts, the run starts."""

    mode: str
    singles: list[Landed] = field(default_factory=list)
    bursts: list[Burst] = field(default_factory=list)
    starts: list[RunStart] = field(default_factory=list)
    loaded: int = 0


@dataclass
class SmallFiles:
    modes: list[ModeResult]


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (no interpolation: a figure that was measured)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def markdown(result: SmallFiles, argv: list[str], server_version: str) -> str:
    modes = result.modes
    return f"""# Small files: results

{report.produced_by(argv, "bench.small_files")}

Source measured: {report.source()}. `dagster dev` on the dev instance (dev/dagster.yaml:
queued runs, at most 4 at once, each in a process of its own, SQLite event storage), the
landing sensor every ~5 s, a local landing folder, the embedded Postgres unless
DATABASE_URL is set. Modes: `grouped` (a tick's files of one tenant and profile share runs
of up to 100 files, a partition range each) and `per-file` (`IMPORT_MAX_FILES_PER_RUN=1`,
one run per file, as before issue 21); each on a fresh database and `dagster dev`.

## Side by side

{HEADER}
{chr(10).join(_mode_row(m) for m in modes)}

Goals: single drops p50 <= {TARGET_P50_S:g} s and each <= {TARGET_S:g} s; 200 files <= 30 s,
1,000 files <= 120 s, no failed run.

{chr(10).join(_mode_details(m) for m in modes)}
{report.machine_and_versions(server_version)}"""


def _latencies(mode: ModeResult) -> list[float]:
    return [f.latency for f in mode.singles if f.status == "succeeded" and f.latency is not None]


def _mode_row(mode: ModeResult) -> str:
    done = _latencies(mode)
    p50 = f"{percentile(done, 0.5):.1f}" if done else "-"
    p95 = f"{percentile(done, 0.95):.1f}" if done else "-"
    within = f"{sum(x <= TARGET_S for x in done)} of {len(mode.singles)}"
    bursts = "; ".join(
        f"{len(b.files):,}: {'TIMED OUT' if b.timed_out else f'{b.wall_s:,.0f} s'}, {b.runs} runs"
        for b in mode.bursts
    )
    process = [s.process_s for s in mode.starts]
    first = [s.to_first_step_s for s in mode.starts]
    return (
        f"| {mode.mode} | {p50} | {p95} | {within} | {bursts or '-'} "
        f"| {_median(process)} | {_median(first)} |"
    )


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "-"


def _mode_details(mode: ModeResult) -> str:
    singles = mode.singles
    failed = sum(
        f.status != "succeeded" for f in [*singles, *(f for b in mode.bursts for f in b.files)]
    )
    expected = 1 + len(singles) + sum(len(b.files) for b in mode.bursts)
    bursts = "\n".join(_burst_lines(b) for b in mode.bursts)
    return f"""## Mode `{mode.mode}`

{len(singles)} one-row files, each after a random 0-5 s pause, timed from the moment it
was written (the benchmark's clock) to its batch's `succeeded` in the ledger (the
database's clock, on the same machine): {_spread(_latencies(mode))}.

| file | seen by a tick s | run started s | loaded s | status |
|---|---:|---:|---:|---|
{_single_rows(singles)}

{bursts}

Batches not succeeded: {failed}; customer rows loaded: {mode.loaded:,} of {expected:,}
(the warm-up file's included). Runs measured for their start: {len(mode.starts)}.
"""


def _burst_lines(many: Burst) -> str:
    postgres = (
        f"{many.peak_postgres_mb:,.0f} MB"
        if many.peak_postgres_mb is not None
        else "not measured (not a server of this machine's)"
    )
    goal = BURST_GOALS_S.get(len(many.files))
    verdict = "" if goal is None else f" (goal <= {goal:g} s)"
    return f"""### {len(many.files):,} one-row files dropped at once

- {_burst_end(many)}{verdict};
- the first files loaded {many.first_s:,.1f} s after the drop (with the first run);
- runs: {many.runs} ({many.failed_runs} failed); in progress at most {many.max_running},
  queued at most {many.max_queued};
- peak memory (PSS) of the Dagster processes {many.peak_dagster_mb:,.0f} MB, of the
  Postgres processes {postgres}.
"""


def _spread(latencies: list[float]) -> str:
    if not latencies:
        return "none loaded"
    return (
        f"min {min(latencies):.1f} s, p50 {percentile(latencies, 0.5):.1f} s, "
        f"p95 {percentile(latencies, 0.95):.1f} s, max {max(latencies):.1f} s"
    )


def _single_rows(singles: list[Landed]) -> str:
    def since(moment: float | None, landed: Landed) -> str:
        return "-" if moment is None else f"{moment - landed.written:.1f}"

    return "\n".join(
        f"| {f.name} | {since(f.seen, f)} | {since(f.started, f)} | {since(f.finished, f)} "
        f"| {f.status} |"
        for f in singles
    )


def _burst_end(many: Burst) -> str:
    count = len(many.files)
    if many.timed_out:
        return f"TIMED OUT: {many.ended} of {count} batches ended, the last {many.wall_s:,.0f} s in"
    return (
        f"every batch ended {many.wall_s:,.0f} s after the drop "
        f"({count / max(many.wall_s, 0.001):.1f} files a second)"
    )
