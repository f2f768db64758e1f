"""Two runs whose batches share every key, overlapping with random timing."""

import random
import time
from collections import Counter

from faults.drops import Drops
from faults.kill import listed
from faults.report import Figure
from faults.tables import Snapshot, compare, ledger_words, snapshot
from faults.world import World, kill


def overlaps(
    world: World, drops: Drops, clean: Snapshot, pairs: int, window: float, rng: random.Random
) -> Figure:
    """Each trial lands the base drop and the changed one (same keys, 10 % of the orders one
    day newer) into empty tables, starts one run (in random order) and the other after a
    random delay within the first's working time. Both must succeed, and the newer
    version win whatever the order."""
    started = time.monotonic()
    figure = Figure("two runs with shared keys overlapping", trials=pairs)
    words: Counter[str] = Counter()
    failed_first = 0
    for trial in range(pairs):
        with world.site("overlap") as site:
            for drop in (drops.base, drops.changed):
                site.land(drops.files(drop), drop.spec.tag)
            requests = site.tick(world.instance)
            rng.shuffle(requests)
            processes = []
            for number, request in enumerate(requests):
                log = world.work / f"overlap-{trial}-{number}.log"
                processes.append((request, log, site.start_run(request, log)))
                time.sleep(rng.uniform(0, window))
            for request, log, process in processes:
                process.wait(600)
                kill(process)
                if site.status(request.partition_key) != "succeeded":
                    failed_first += 1
                    figure.failures.append(
                        f"trial {trial}: {request.partition_key} failed when overlapping"
                        f" (log {log})"
                    )
                    site.converge(request, log)
            figure.difference += compare(snapshot(site.dsn), clean)
            words.update(ledger_words(site.dsn).values())
    figure.rows = clean.total
    figure.faults = f"{pairs} overlapping pairs; {failed_first} runs failed"
    figure.ledger = listed(words)
    if set(words) != {"succeeded"}:
        figure.failures.append(f"ledger: {listed(words)}")
    figure.seconds = time.monotonic() - started
    return figure
