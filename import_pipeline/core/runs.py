"""A tick's new batches -> runs: many small files of one tenant and profile share a run.

Each batch keeps its own partition; a run covers a contiguous range of them, bounded by a
number of batches and of bytes, so one run process (its start, imports and events) is
paid for many small files instead of once per file.
"""

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RunBounds:
    """How much one run may take on: at most `files` batches and `bytes_` bytes (a batch
    larger than `bytes_` still gets a run of its own)."""

    files: int
    bytes_: int


@dataclass(frozen=True)
class PlannedRun(Generic[T]):
    """The batches of one run, in the order they load (and are added as partitions)."""

    batches: tuple[T, ...]

    @property
    def first(self) -> T:
        return self.batches[0]

    @property
    def last(self) -> T:
        return self.batches[-1]


def plan_runs(
    batches: list[T],
    group: Callable[[T], Hashable],
    order: Callable[[T], tuple],
    size: Callable[[T], int],
    bounds: RunBounds,
) -> list[PlannedRun[T]]:
    """Split batches into runs: one group (tenant, profile) never shares a run with
    another; within a group, batches in `order` (parents' files first) are cut into runs
    of at most `bounds` files and bytes. Runs come out in the order of their first batch,
    so the run with the first parents' file is requested first."""
    groups: dict[Hashable, list[T]] = {}
    for batch in sorted(batches, key=order):
        groups.setdefault(group(batch), []).append(batch)
    runs: list[PlannedRun[T]] = []
    for members in groups.values():
        current: list[T] = []
        taken = 0
        for batch in members:
            weight = size(batch)
            full = len(current) >= bounds.files or taken + weight > bounds.bytes_
            if current and full:
                runs.append(PlannedRun(tuple(current)))
                current, taken = [], 0
            current.append(batch)
            taken += weight
        runs.append(PlannedRun(tuple(current)))
    return sorted(runs, key=lambda run: order(run.first))
