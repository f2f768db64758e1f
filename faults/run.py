"""The fault suite: `python -m faults.run` (or `make faults`) runs every scenario, prints the
figures table and the hostile drop's cases, and exits 1 unless nothing was lost,
duplicated or wrong and every expectation held."""

import argparse
import random
import sys
import tempfile
import time
from dataclasses import dataclass, fields
from pathlib import Path

from faults.drops import clean_load, make_drops
from faults.hostile_run import Outcome, case_table, hostile_drop
from faults.kill import kill_runs
from faults.overlap import overlaps
from faults.reader import reader_during_loads
from faults.report import Figure, problems, table
from faults.restart import restarts
from faults.versions import shuffled_versions
from faults.world import World


@dataclass(frozen=True)
class Config:
    """Sizes of one suite run (the defaults are `make faults`'s)."""

    orders: int = 10_000
    """Orders of the generated drop (customers a fifth, 2,000 products, ~3 lines each)."""
    kills: int = 10
    restarts: int = 4
    overlaps: int = 6
    version_orders: int = 18
    version_keys: int = 40
    bulk_rows: int = 100_000
    """Rows of the hostile drop's bulk file, a tenth of them bad."""
    chunk_rows: int = 2_000
    seed: int = 17


SMALL = Config(
    orders=400,
    kills=1,
    restarts=2,
    overlaps=1,
    version_orders=2,
    version_keys=6,
    bulk_rows=1_000,
    chunk_rows=200,
)
"""The configuration `make test` runs (import_pipeline_tests/faults)."""


def run_suite(config: Config, work: Path) -> tuple[list[Figure], list[Outcome]]:
    """Every scenario, in the order of the figures table, on a server of their own."""
    rng = random.Random(config.seed)
    world = World(work, config.chunk_rows)
    try:
        drops = make_drops(work, config.orders)
        clean = clean_load(world, drops)
        reading, windows = reader_during_loads(world, drops, clean)
        figures = [
            reading,
            kill_runs(world, drops, clean, config.kills, windows, rng),
            restarts(world, drops, clean, config.restarts, rng),
            overlaps(world, drops, clean, config.overlaps, windows["base"], rng),
            shuffled_versions(world, config.version_keys, config.version_orders),
        ]
        hostile, outcomes = hostile_drop(world, config.bulk_rows)
    finally:
        world.close()
    return [*figures, hostile], outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    for option in fields(Config):
        parser.add_argument(f"--{option.name.replace('_', '-')}", type=int)
    parser.add_argument("--small", action="store_true", help="the configuration of make test")
    parser.add_argument(
        "--work", type=Path, help="work folder, created if missing (default: a temp folder)"
    )
    args = parser.parse_args()
    chosen = vars(SMALL if args.small else Config()).copy()
    chosen.update({k: v for k, v in vars(args).items() if k in chosen and v is not None})
    config = Config(**chosen)
    say(f"fault suite: {config}")
    started = time.monotonic()
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="faults-", dir=args.work) as work:
        figures, outcomes = run_suite(config, Path(work))
    say(f"{table(figures)}\n\n{case_table(outcomes)}\n\n{time.monotonic() - started:.0f} s")
    found = problems(figures)
    for line in found:
        say(f"- {line}")
    return 1 if found else 0


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
