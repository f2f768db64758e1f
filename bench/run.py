"""`make bench`: generate a drop, load it with every loader side by side on one Postgres
(a fresh database each), print the table and write it to bench/RESULTS.md.

    .venv/bin/python -m bench.run [--orders 100000] [--format csv|csv.gz|parquet]
        [--dirty] [--only ours,copy,seed,dlt] [--chunk-rows N] [--profile]

import_pipeline is measured three times on one database: fresh, the same files again
under new names (unchanged re-load), and a drop where 10% of the orders changed.
The 1M-order run is `--orders 1000000`; memory is in the `peak RSS` column.
"""

import argparse
import json
import pstats
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from bench import databases, report
from bench.baselines import dlt_available
from bench.generate import FORMATS, Drop, DropSpec, generate
from bench.measure import measure

REPO = Path(__file__).resolve().parents[1]
LOADERS = ("copy", "seed", "dlt", "ours")


@dataclass
class Bench:
    """What a benchmark run produced: the rows of the table and the drop it loaded."""

    rows: list[report.Row]
    drop: Drop
    counts: dict[str, int]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--format", choices=FORMATS, default="csv")
    parser.add_argument("--dirty", action="store_true", help="a few %% invalid/duplicate rows")
    parser.add_argument(
        "--only", default=",".join(LOADERS), help="comma list of " + "|".join(LOADERS)
    )
    parser.add_argument("--chunk-rows", type=int, default=None, help="import_pipeline chunk size")
    parser.add_argument(
        "--load-connections", type=int, default=None, help="ImportSettings.load_connections"
    )
    parser.add_argument(
        "--batch",
        choices=("folder", "files"),
        default="folder",
        help="land the drop as one folder batch with _SUCCESS (one run), or four file batches",
    )
    parser.add_argument("--seed", type=int, default=7, help="the generator's random seed")
    parser.add_argument(
        "--seed-orders",
        type=int,
        default=20_000,
        help="the seed-style loader runs on a drop of at most this many orders, extrapolated",
    )
    parser.add_argument("--work", default=str(REPO / "bench" / "out"), help="data and pgdata")
    parser.add_argument("--results", default=str(REPO / "bench" / "RESULTS.md"))
    parser.add_argument("--profile", action="store_true", help="cProfile ours' fresh load")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per measurement")
    parser.add_argument(
        "--run-order",
        choices=("fk", "sensor"),
        default="fk",
        help="with --batch files: run batches parents first, or in the sensor's (name) order",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure every loader N times in rounds (a CHECKPOINT before each), keep the fastest",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="measure in this process (for the smoke test: faster, but peak RSS cumulative)",
    )
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(LOADERS)
    if unknown:
        parser.error(f"--only: unknown loader(s) {', '.join(sorted(unknown))}")
    return args


def drop_for(work: Path, spec: DropSpec) -> Drop:
    label = f"{spec.tag}-{spec.orders}-{spec.format.replace('.', '')}"
    label += "-dirty" if spec.dirty else ""
    return generate(work / "drops" / f"{label}-s{spec.seed}", spec)


def child(job: dict, work: Path, label: str, args: argparse.Namespace) -> dict:
    """Run one measurement in a fresh process; its log goes to work/logs/<label>.log.
    With --in-process it runs here instead (faster; peak RSS is then cumulative)."""
    if args.in_process:
        return measure(job)
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with (logs / f"{label}.log").open("w") as log:
        done = subprocess.run(
            [sys.executable, "-m", "bench.measure", json.dumps(job)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            timeout=args.timeout,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"{label} failed (exit {done.returncode}); see {logs / label}.log")
    print(f"{label}: measured in a process that took {time.monotonic() - started:.1f} s")
    return json.loads(done.stdout.strip().splitlines()[-1])


def row_of(loader: str, result: dict, rows: int, notes: list[str] = ()) -> report.Row:
    return report.Row(
        loader=loader,
        rows=rows,
        wall_s=result["wall_s"],
        peak_rss_mb=result["peak_rss_mb"],
        cpu_s=result["cpu_s"],
        notes=[*notes, *result["notes"]],
        phases=result.get("phases", {}),
        setup_s=result.get("setup_s", 0.0),
    )


def best(rows: list[report.Row]) -> report.Row:
    """The fastest of repeated measurements (each on a fresh database): on a shared
    machine the slower ones measure the neighbours, not the loader."""
    row = min(rows, key=lambda r: r.wall_s)
    if len(rows) > 1:
        walls = ", ".join(f"{r.wall_s:.1f}" for r in rows)
        row.notes.append(f"best of {len(rows)} (walls {walls} s)")
    return row


def _baseline_once(loader: str, spec: DropSpec, server: str, args, work: Path) -> report.Row:
    """Raw COPY / seed-style / dlt on a fresh database; baselines load the clean drop."""
    notes = ["clean drop (it does not validate)"] if spec.dirty else []
    spec = replace(spec, dirty=False)
    full = drop_for(work, spec)
    drop = full
    if loader == "seed" and spec.orders > args.seed_orders:
        drop = drop_for(work, replace(spec, orders=args.seed_orders))
    dsn = databases.fresh_database(server, loader)
    try:
        job = {"loader": loader, "dsn": dsn, "drop": str(drop.root), "spec": vars(drop.spec)}
        result = child(job, work, loader, args)
    finally:
        databases.drop_database(server, dsn)
    name = {"copy": "raw COPY", "seed": "seed-style pandas+SQLAlchemy", "dlt": "dlt merge"}[loader]
    row = row_of(name, result, full.total_rows, notes)
    if drop is not full:
        row.measured_rows, row.measured_wall_s = drop.total_rows, result["wall_s"]
        row.wall_s = full.total_rows / row.rows_per_s
        row.notes.insert(0, f"measured on {drop.total_rows:,} rows ({drop.spec.orders:,} orders)")
    return row


def _ours_once(spec: DropSpec, server: str, args, work: Path) -> tuple[list[report.Row], dict]:
    """Fresh load, unchanged re-load, 10%-changed load: one database, three processes."""
    drop = drop_for(work, spec)
    changed = drop_for(work, replace(spec, changed=True, tag="changed"))
    dsn = databases.fresh_database(server, "ours")
    scratch = work / "ours"
    shutil.rmtree(scratch, ignore_errors=True)
    rows, counts = [], {}
    phases = [
        ("fresh", drop, "bench"),
        ("unchanged", drop, "again"),
        ("10% changed", changed, "changed"),
    ]
    try:
        for phase, phase_drop, tag in phases:
            job = {
                "loader": "ours",
                "dsn": dsn,
                "drop": str(phase_drop.root),
                "spec": vars(phase_drop.spec),
                "landing": str(scratch / f"landing-{tag}"),
                "staging": str(scratch / "staging"),
                "tag": tag,
                "settings": _settings(args),
                "batch": args.batch,
                "run_order": args.run_order,
            }
            if args.profile and phase == "fresh":
                job["profile"] = str(work / "profile-ours-fresh.prof")
            result = child(job, work, f"ours-{tag}", args)
            row = row_of(f"import_pipeline ({phase})", result, phase_drop.total_rows)
            if phase == "fresh":
                counts = databases.table_counts(dsn)
                row.notes.append(_check(counts, drop))
            rows.append(row)
    finally:
        databases.drop_database(server, dsn)
        shutil.rmtree(scratch, ignore_errors=True)
    return rows, counts


def _settings(args: argparse.Namespace) -> dict[str, int]:
    """ImportSettings the run overrides (the rest keep the package's defaults)."""
    wanted = {"chunk_rows": args.chunk_rows, "load_connections": args.load_connections}
    return {name: value for name, value in wanted.items() if value is not None}


def _check(counts: dict[str, int], drop: Drop) -> str:
    expected = {**drop.expected, "held": sum(drop.held.values())}
    wrong = {k: (counts.get(k), v) for k, v in expected.items() if counts.get(k) != v}
    if wrong:
        return "ROW COUNTS WRONG (got, expected): " + ", ".join(
            f"{k} {v}" for k, v in wrong.items()
        )
    return f"table rows as expected ({sum(drop.expected.values()):,})"


def run_bench(argv: list[str]) -> Bench:
    args = parse(argv)
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    spec = DropSpec(orders=args.orders, format=args.format, dirty=args.dirty, seed=args.seed)
    drop = drop_for(work, spec)
    server = databases.server_url(work)
    wanted = args.only.split(",")
    loaders = [name for name in ("copy", "seed", "dlt") if name in wanted]
    if "dlt" in loaders and not dlt_available():
        print("dlt: skipped, `import dlt` fails (install the bench-dlt extra to measure it)")
        loaders.remove("dlt")
    measured: dict[str, list[report.Row]] = {name: [] for name in loaders}
    ours_runs: list[tuple[list[report.Row], dict]] = []
    for _ in range(args.repeat):
        for loader in loaders:
            databases.checkpoint(server)
            measured[loader].append(_baseline_once(loader, spec, server, args, work))
            print(report.table(measured[loader][-1:]))
        if "ours" in wanted:
            databases.checkpoint(server)
            ours_runs.append(_ours_once(spec, server, args, work))
    rows = [best(measured[loader]) for loader in loaders]
    counts: dict[str, int] = {}
    if ours_runs:
        phases = range(len(ours_runs[0][0]))
        rows += [best([runs[phase] for runs, _ in ours_runs]) for phase in phases]
        counts = ours_runs[0][1]
    note = (
        f"{spec.orders:,} orders, {drop.total_rows:,} rows "
        f"({', '.join(f'{k} {v:,}' for k, v in drop.rows.items())}), {spec.format}"
        + (", dirty" if spec.dirty else "")
        + f", landed as {'one folder batch' if args.batch == 'folder' else 'four file batches'}"
        + (". Measured --in-process: peak RSS is cumulative" if args.in_process else "")
    )
    text = report.markdown(rows, argv, databases.server_version(server), note)
    results = Path(args.results)
    results.write_text(text)
    print(text)
    if args.profile:
        stats = pstats.Stats(str(work / "profile-ours-fresh.prof"))
        stats.sort_stats("cumulative").print_stats(40)
    return Bench(rows=rows, drop=drop, counts=counts)


def main(argv: list[str] | None = None) -> int:
    run_bench(sys.argv[1:] if argv is None else argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
