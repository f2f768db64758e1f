"""The fault suite's reader scenario: `bench.reader.Reader` queries the business tables
throughout real loads, and the scenario fails if the loader ever takes a table lock."""

import time
from collections import Counter

from bench.reader import LOCK_TIMEOUT_MS, Reader
from faults.drops import Drops, land, wait_done, wait_running
from faults.kill import listed
from faults.report import Figure
from faults.tables import Snapshot, compare, ledger_words, snapshot
from faults.world import World


def reader_during_loads(
    world: World, drops: Drops, clean: Snapshot
) -> tuple[Figure, dict[str, float]]:
    """A reader runs throughout the base drop's run process (loads into empty tables) and
    the changed drop's (loads over stored rows). Also returns how long each drop's run
    worked (from the ledger's `running` to its last word), by drop tag: the windows the
    kill and overlap scenarios draw their moments from."""
    started = time.monotonic()
    figure = Figure("a reader with lock_timeout throughout real loads", trials=2)
    with world.site("reader") as site:
        reader = Reader(site.dsn)
        reader.start()
        windows = {}
        for drop in (drops.base, drops.changed):
            request = land(site, world.instance, drops, drop)
            process = site.start_run(request, world.work / f"reader-{drop.spec.tag}.log")
            wait_running(site, request.partition_key, process)
            began = time.monotonic()
            wait_done(site, request.partition_key, process)
            windows[drop.spec.tag] = time.monotonic() - began
            if process.wait(600):
                figure.failures.append(f"the run of {drop.spec.tag} failed")
        reading = reader.stop()
        figure.difference = compare(snapshot(site.dsn), clean)
        words = Counter(ledger_words(site.dsn).values())
    figure.rows = clean.total
    figure.faults = (
        f"{reading.queries:,} queries, {len(reading.timeouts)} lock timeouts"
        f" ({LOCK_TIMEOUT_MS} ms), longest {reading.longest_ms:.0f} ms,"
        f" table locks seen: {', '.join(sorted(reading.locks)) or 'none'}"
    )
    figure.failures += reading.timeouts[:5] + sorted(reading.locks)
    figure.ledger = listed(words)
    if set(words) != {"succeeded"}:
        figure.failures.append(f"ledger: {listed(words)}")
    figure.seconds = time.monotonic() - started
    return figure, windows
