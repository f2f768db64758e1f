"""The drops the crash scenarios load: the benchmark's generated drop and a second version of
it (10 % of the orders changed, one day newer), each landed as one folder batch, and the
clean load both are compared with."""

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from bench.generate import ENTITY_ORDER, Drop, DropSpec, generate
from faults.tables import Snapshot, snapshot
from faults.world import Site, World


@dataclass
class Drops:
    base: Drop
    changed: Drop

    def files(self, drop: Drop) -> list[Path]:
        return [drop.files[e] for e in ENTITY_ORDER]


def make_drops(work: Path, orders: int) -> Drops:
    base = generate(work / "drops" / "base", DropSpec(orders=orders, tag="base"))
    changed = generate(
        work / "drops" / "changed", DropSpec(orders=orders, changed=True, tag="changed")
    )
    return Drops(base, changed)


def land(site: Site, instance: dg.DagsterInstance, drops: Drops, drop: Drop) -> dg.RunRequest:
    """Land one drop as a folder batch and return the run the sensor requests for it."""
    site.land(drops.files(drop), drop.spec.tag)
    (request,) = site.tick(instance)
    return request


def clean_load(world: World, drops: Drops) -> Snapshot:
    """The tables after the base drop and then the changed one, each loaded once, with no
    fault: what every crash scenario must end with."""
    with world.site("clean") as site:
        for drop in (drops.base, drops.changed):
            site.land(drops.files(drop), drop.spec.tag)
            failed = site.load_here(world.memory)
            assert not failed, f"the clean load of {drop.spec.tag} failed: {failed}"
        return snapshot(site.dsn)


def wait_running(site: Site, partition_key: str, process: subprocess.Popen) -> None:
    """Until the ledger marks the batch running (the run's first step started) or the run
    process has ended."""
    while process.poll() is None and site.status(partition_key) != "running":
        time.sleep(0.02)


def wait_done(site: Site, partition_key: str, process: subprocess.Popen) -> None:
    """Until the ledger has the batch's last word (succeeded or failed) or the run ended."""
    while process.poll() is None and site.status(partition_key) == "running":
        time.sleep(0.02)
