"""Drive import_pipeline the way the daemon would, in-process: drop the files into a landing
folder, evaluate the landing sensor, add its partitions, and execute `import_batch` for
every requested batch.

The tick and run helpers are the package's (`import_pipeline.defs.in_process`), so the
benchmark follows the package's API as it changes instead of keeping a copy of it.
With four file batches, runs go in foreign-key order (customers, products, orders, line
items) unless `--run-order sensor`: a child file loaded before its parents is held (as
JSON in ingest.held_rows) and released by a later run, which the daemon may well do.
"""

import os
import time
from collections import defaultdict
from pathlib import Path

import dagster as dg

from bench.baselines import Outcome
from bench.generate import ENTITY_ORDER, Drop
from import_pipeline.core.entities import entity_for_file
from import_pipeline.defs.in_process import materializations, run, tick

COUNTS = ("inserted", "updated", "unchanged", "stale", "held", "resolved", "rejected")


def land(drop: Drop, landing: Path, tag: str, folder: bool = False) -> list[Path]:
    """Put the drop's files into `landing` under names carrying `tag` (hard links, so an
    'unchanged' drop is the same bytes under new names, i.e. new batches).

    `folder`: the four files go into one folder `<tag>/` completed by a `_SUCCESS` marker,
    which the sensor turns into ONE batch (one run) instead of four."""
    target_dir = landing / tag if folder else landing
    target_dir.mkdir(parents=True, exist_ok=True)
    landed = []
    for entity in ENTITY_ORDER:
        source = drop.files[entity]
        target = target_dir / source.name.replace(f"_{drop.spec.tag}.", f"_{tag}.", 1)
        if not target.exists():
            target.hardlink_to(source)
        landed.append(target)
    if folder:
        (target_dir / "_SUCCESS").touch()
    return landed


def _entity_rank(request: dg.RunRequest) -> int:
    spec = entity_for_file(request.partition_key or "")
    return ENTITY_ORDER.index(spec.name) if spec else len(ENTITY_ORDER)


def load(
    dsn: str,
    landing: Path,
    staging: Path,
    settings: dict[str, int],
    rows: int,
    fk_order: bool = True,
) -> Outcome:
    """Tick once and run every requested batch; time the tick, each step and the runs.
    Importing and loading the definitions and creating the instance happen once per code
    server, so they are reported as setup, outside the wall time."""
    os.environ["DATABASE_URL"] = dsn
    os.environ["IMPORT_LANDING_URL"] = str(landing)
    os.environ["IMPORT_STAGING_URL"] = str(staging)
    setup = time.monotonic()
    from import_pipeline.definitions import defs as load_definitions

    run_config = {"resources": {"settings": {"config": settings}}} if settings else None
    outcome = Outcome(rows=rows)
    phases: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    with dg.instance_for_test() as instance:
        defs = load_definitions()
        outcome.setup_s = time.monotonic() - setup
        started = time.monotonic()
        ticked = tick(instance, landing, dsn)
        phases["sensor tick"] = time.monotonic() - started
        requests = ticked.run_requests
        for request in sorted(requests, key=_entity_rank) if fk_order else requests:
            run_started = time.monotonic()
            result = run(defs, instance, request, run_config)
            run_seconds = time.monotonic() - run_started
            if not result.success:
                outcome.notes.append(f"run of {request.partition_key} FAILED")
            steps = _step_seconds(instance, result.run_id)
            for step, seconds in steps.items():
                phases[step] += seconds
            phases["dagster run overhead"] += run_seconds - sum(steps.values())
            for entity in ENTITY_ORDER:
                for values in materializations(result, entity):
                    phases[entity] += values.get("duration_s", 0.0)
                    for name in COUNTS:
                        counts[name] += int(values.get(name) or 0)
    outcome.phases = dict(phases)
    summary = ", ".join(f"{k} {v:,}" for k, v in counts.items() if v)
    outcome.notes.append(summary or "no rows written")
    return outcome


def _step_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    """Seconds from each step's start to its end, from the run's event log."""
    started: dict[str, float] = {}
    seconds: dict[str, float] = {}
    ends = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = entry.timestamp
        elif event.event_type in ends and event.step_key in started:
            seconds[event.step_key] = entry.timestamp - started[event.step_key]
    return seconds
