"""`kill -9` of a run process at a random moment of its load, then re-execution."""

import random
import time
from collections import Counter

from faults.drops import Drops, land, wait_running
from faults.report import Figure
from faults.tables import Snapshot, compare, ledger_words, snapshot
from faults.world import World, kill, query


def kill_runs(
    world: World,
    drops: Drops,
    clean: Snapshot,
    loads: int,
    windows: dict[str, float],
    rng: random.Random,
) -> Figure:
    """Each trial loads the base drop and then the changed one, killing the run of one of
    them (alternately: a load into empty tables, a load over stored rows) at a moment drawn
    uniformly from its working time, and re-executes that batch until the ledger says it
    succeeded. The tables must then equal the clean load's."""
    started = time.monotonic()
    figure = Figure("kill -9 of the run process, then re-execution", trials=loads)
    moments: Counter[str] = Counter()
    words: Counter[str] = Counter()
    reruns = 0
    for trial in range(loads):
        with world.site("kill") as site:
            log = world.work / f"kill-{trial}.log"
            over_stored = trial % 2 == 1
            if over_stored:
                site.land(drops.files(drops.base), drops.base.spec.tag)
                figure.failures += site.load_here(world.memory)
            victim = drops.changed if over_stored else drops.base
            request = land(site, world.instance, drops, victim)
            process = site.start_run(request, log)
            wait_running(site, request.partition_key, process)
            time.sleep(rng.uniform(0, windows[victim.spec.tag]))
            moment = _moment(site.dsn, request.partition_key)
            moments[moment if kill(process) else "none: the run had ended"] += 1
            reruns += site.converge(request, log)
            if not over_stored:
                site.land(drops.files(drops.changed), drops.changed.spec.tag)
                figure.failures += site.load_here(world.memory)
            figure.difference += compare(snapshot(site.dsn), clean)
            words.update(ledger_words(site.dsn).values())
    figure.rows = clean.total
    killed = loads - moments["none: the run had ended"]
    figure.faults = f"{killed} kills, where: {listed(moments)}; {reruns} runs to converge"
    figure.ledger = listed(words)
    if set(words) != {"succeeded"}:
        figure.failures.append(f"ledger: {listed(words)}")
    figure.seconds = time.monotonic() - started
    return figure


def _moment(dsn: str, partition_key: str) -> str:
    """Where the run was when it was killed, as the ledger shows it."""
    ((status, done, total),) = query(
        dsn,
        "SELECT status, rows_done, rows_total FROM ingest.files WHERE partition_key = %s",
        (partition_key,),
    )
    if status != "running":
        return f"finishing (ledger {status})"
    return "staging" if total is None else "loading"


def listed(counter: Counter[str]) -> str:
    return ", ".join(f"{n} {name}" for name, n in sorted(counter.items()))
