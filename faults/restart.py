"""The database server restarted, or stopped and started, while a run writes a chunk."""

import random
import subprocess
import time
from collections import Counter

import psycopg2

from faults.drops import Drops, land
from faults.kill import listed
from faults.report import Figure
from faults.tables import Snapshot, compare, ledger_words, snapshot
from faults.world import Site, World, kill

WRITING = (
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'import_pipeline'"
    " AND state = 'active' AND query ILIKE '%commerce%' AND pid <> pg_backend_pid()"
)
"""Loader statements on a business table that are running right now: a chunk being written."""

HUNG_AFTER_S = 180.0


def restarts(
    world: World, drops: Drops, clean: Snapshot, events: int, rng: random.Random
) -> Figure:
    """Each trial starts the run of a drop (the base one into empty tables, or the changed
    one over stored rows, alternately), waits until one of its chunks is being written,
    then restarts the server (fast shutdown) or stops it as a crash would (immediate) and
    starts it a second later, and re-executes the batch until the ledger says it
    succeeded. The tables must then equal the clean load's."""
    started = time.monotonic()
    figure = Figure("Postgres restarted / stopped and started mid-chunk", trials=events)
    hits: Counter[str] = Counter()
    words: Counter[str] = Counter()
    reruns = 0
    for trial in range(events):
        with world.site("restart") as site:
            log = world.work / f"restart-{trial}.log"
            over_stored = trial // 2 % 2 == 1
            if over_stored:
                site.land(drops.files(drops.base), drops.base.spec.tag)
                figure.failures += site.load_here(world.memory)
            victim = drops.changed if over_stored else drops.base
            request = land(site, world.instance, drops, victim)
            process = site.start_run(request, log)
            mid_chunk = _wait_writing(site, process)
            time.sleep(rng.uniform(0, 0.05))
            stop_start = trial % 2 == 1
            if stop_start:
                world.server.stop()
                time.sleep(1.0)
                world.server.start()
            else:
                world.server.restart()
            world.server.wait_ready()
            kind = "stop+start" if stop_start else "restart"
            hits[f"{kind} {'mid-chunk' if mid_chunk else 'between chunks'}"] += 1
            if _hung(process):
                figure.failures.append(f"trial {trial}: the run hung after the {kind}")
            reruns += site.converge(request, log)
            if not over_stored:
                site.land(drops.files(drops.changed), drops.changed.spec.tag)
                figure.failures += site.load_here(world.memory)
            figure.difference += compare(snapshot(site.dsn), clean)
            words.update(ledger_words(site.dsn).values())
    figure.rows = clean.total
    figure.faults = f"{listed(hits)}; {reruns} runs to converge"
    figure.ledger = listed(words)
    if set(words) != {"succeeded"}:
        figure.failures.append(f"ledger: {listed(words)}")
    figure.seconds = time.monotonic() - started
    return figure


def _wait_writing(site: Site, process: subprocess.Popen) -> bool:
    """Until a statement of the run writes a business table (True) or the run ended."""
    conn = psycopg2.connect(site.dsn)
    conn.autocommit = True  # pg_stat_activity is read once per transaction: one per poll
    try:
        with conn.cursor() as cur:
            while process.poll() is None:
                cur.execute(WRITING)
                if cur.fetchone()[0]:
                    return True
                time.sleep(0.005)
    finally:
        conn.close()
    return False


def _hung(process: subprocess.Popen) -> bool:
    """Whether the run process is still there long after its server went away."""
    try:
        process.wait(HUNG_AFTER_S)
    except subprocess.TimeoutExpired:
        kill(process)
        return True
    return False
