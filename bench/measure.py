"""One measurement in its own process: `python -m bench.measure '<json job>'`.

A process per measurement makes peak RSS (ru_maxrss) and CPU time that loader's alone,
and lets `--profile` wrap exactly one load in cProfile. The last stdout line is JSON.
"""

import cProfile
import json
import resource
import sys
import time
from dataclasses import asdict
from pathlib import Path

from bench import baselines
from bench.generate import DropSpec, generate


def measure(job: dict) -> dict:
    drop = generate(Path(job["drop"]), DropSpec(**job["spec"]))
    loader = job["loader"]
    dsn = job["dsn"]
    if loader == "ours":
        from bench import pipeline  # dagster is imported only where measured, before timing

    profiler = cProfile.Profile() if job.get("profile") else None
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    if profiler:
        profiler.enable()
    if loader == "copy":
        baselines.prepare_raw_copy(dsn)
        started = time.monotonic()
        outcome = baselines.raw_copy(dsn, drop)
    elif loader == "seed":
        outcome = baselines.seed_style(dsn, drop)
    elif loader == "dlt":
        outcome = baselines.dlt_merge(dsn, drop)
    elif loader == "ours":
        landing = Path(job["landing"])
        pipeline.land(drop, landing, job["tag"], folder=job.get("batch") == "folder")
        outcome = pipeline.load(
            dsn,
            landing,
            Path(job["staging"]),
            job.get("settings", {}),
            drop.total_rows,
            fk_order=job.get("run_order", "fk") == "fk",
        )
    else:
        raise ValueError(f"unknown loader {loader!r}")
    wall = time.monotonic() - started - outcome.setup_s
    if profiler:
        profiler.disable()
        profiler.dump_stats(job["profile"])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
    return {
        **asdict(outcome),
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.argv[1]))))
