"""The batch lock as a resource: taken when an import run starts, released when it ends."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from pydantic import PrivateAttr

from import_pipeline.db.batch_lock import BatchHold
from import_pipeline.defs.partitions import run_batch_keys


class BatchLock(dg.ConfigurableResource):
    """Holds the run's batches (its partition, or each of its range) for the whole run, on a
    connection of its own, so two runs of one batch never load it side by side: the second
    waits up to `wait_seconds`, then fails with BatchBusy (see db/batch_lock.py)."""

    url: str
    wait_seconds: float = 60.0

    _hold: BatchHold | None = PrivateAttr(default=None)

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator["BatchLock"]:
        run = context.run
        keys = run_batch_keys(dict(run.tags), context.instance) if run and context.instance else []
        if not keys:
            yield self
            return
        self._hold = BatchHold(self.url, keys, self.wait_seconds)
        self._hold.acquire()
        try:
            yield self
        finally:
            self._hold.release()

    def confirm(self) -> None:
        """Before each step attempt: the lock is still held, or is taken again (a server
        restart ends its session), or the step fails with BatchBusy."""
        if self._hold is not None:
            self._hold.confirm()


@dg.definitions
def batch_lock() -> dg.Definitions:
    return dg.Definitions(resources={"batch_lock": BatchLock(url=dg.EnvVar("DATABASE_URL"))})
