"""Versions of the same keys landed in random orders: the newest version of every key wins.

Hypothesis draws how many versions there are, which keys each version holds and the order
the versions land in; every version is a folder batch of customers and their orders, run
through the real job one after the other in that order."""

import random
import time
from collections import Counter
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faults.kill import listed
from faults.report import Figure
from faults.tables import compare, ledger_words, snapshot
from faults.world import World

STATUSES = ("pending", "paid", "shipped", "delivered")


def version_rows(version: int, keys: list[int]) -> dict[str, list[dict]]:
    """Version `version` of customers and orders `keys` (day `version` of 2024)."""
    stamp = f"2024-01-{version + 1:02d}T00:00:00Z"
    return {
        "customers": [
            {"customer_id": f"C{k:04d}", "first_name": f"v{version}", "updated_at": stamp}
            for k in keys
        ],
        "orders": [
            {
                "order_id": f"O{k:04d}",
                "customer_id": f"C{k:04d}",
                "status": STATUSES[version % len(STATUSES)],
                "total": f"{version}.{k % 100:02d}",
                "ordered_at": "2023-12-01T00:00:00Z",
                "updated_at": stamp,
            }
            for k in keys
        ],
    }


def write_batch(folder: Path, rows: dict[str, list[dict]]) -> None:
    folder.mkdir(parents=True)
    for entity, records in rows.items():
        if records:
            pl.DataFrame(records).write_csv(folder / f"{entity}.csv")
    (folder / "_SUCCESS").touch()


def newest(versions: list[list[int]]) -> dict[str, list[dict]]:
    """Each key's newest version, as one batch."""
    last = {k: v for v, keys in enumerate(versions) for k in keys}
    merged: dict[str, list[dict]] = {"customers": [], "orders": []}
    for k, v in sorted(last.items()):
        for entity, records in version_rows(v, [k]).items():
            merged[entity] += records
    return merged


def shuffled_versions(world: World, keys: int, examples: int) -> Figure:
    """Run `examples` drawn landing orders; each ends compared with one clean load of the
    newest version of every key."""
    started = time.monotonic()
    figure = Figure("versions landed in random orders (hypothesis)")
    words: Counter[str] = Counter()
    rows = 0

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.lists(
            st.lists(st.integers(0, keys - 1), min_size=1, max_size=keys, unique=True),
            min_size=2,
            max_size=5,
        ),
        st.randoms(use_true_random=False),
    )
    def one_order(versions: list[list[int]], rnd: random.Random) -> None:
        nonlocal rows
        order = list(range(len(versions)))
        rnd.shuffle(order)
        with world.site("clean-versions") as reference:
            write_batch(reference.landing / "newest", newest(versions))
            figure.failures.extend(reference.load_here(world.memory))
            clean = snapshot(reference.dsn)
        with world.site("versions") as site:
            for step, version in enumerate(order):
                write_batch(site.landing / f"v{version}", version_rows(version, versions[version]))
                failed = site.load_here(world.memory)
                figure.failures.extend(f"order {order} step {step}: {k} failed" for k in failed)
            difference = compare(snapshot(site.dsn), clean)
            if not difference.clean:
                difference.details.insert(0, f"landing order {order} of versions {versions}")
            figure.difference += difference
            words.update(ledger_words(site.dsn).values())
        figure.trials += 1
        rows += clean.total

    one_order()
    figure.rows = rows
    figure.faults = f"{figure.trials} landing orders, {sum(words.values())} batches"
    figure.ledger = listed(words)
    if set(words) != {"succeeded"}:
        figure.failures.append(f"ledger: {listed(words)}")
    figure.seconds = time.monotonic() - started
    return figure
