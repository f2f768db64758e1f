"""One run at a time per batch: a session-level advisory lock on a connection of its own.

A run holds its batch's lock from its first step to its end, so a second run of the same
batch (a re-execution beside a zombie, a reconciliation beside a slow run) waits a bounded
time and then fails with `BatchBusy` instead of interleaving its writes with the first's.
The lock is the session's: it goes with the connection, so a run whose process dies
releases it at once, and a killed connection cannot leave it behind.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg2
from psycopg2.extensions import connection

_LOCK_CLASS = 0x1A9019  # arbitrary, constant: "import_pipeline batch runs"
POLL_SECONDS = 0.5


class BatchBusy(Exception):
    """Another run holds the batch; this run neither staged nor loaded anything of it."""

    def __init__(self, partition_key: str, waited_seconds: float) -> None:
        self.partition_key = partition_key
        super().__init__(
            f"BatchBusy: batch {partition_key} is being loaded by another run (waited "
            f"{waited_seconds:g} s for it). Let that run finish or terminate it, then run the "
            "batch again; `ingest.files.run_id` names the run that has it."
        )


def try_lock(conn: connection, partition_key: str) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (_LOCK_CLASS, partition_key))
        return cur.fetchone()[0]


def unlock(conn: connection, partition_key: str) -> None:
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (_LOCK_CLASS, partition_key))


@contextmanager
def batch_locked(conn: connection, partition_key: str, wait_seconds: float) -> Iterator[None]:
    """Hold the batch's lock on `conn` (autocommit, used for nothing else) for the block;
    poll for it up to `wait_seconds` (a blocking lock wait could not be bounded or
    interrupted cleanly), then raise `BatchBusy`."""
    conn.autocommit = True
    started = time.monotonic()
    while not try_lock(conn, partition_key):
        waited = time.monotonic() - started
        if waited >= wait_seconds:
            raise BatchBusy(partition_key, round(waited, 1))
        time.sleep(min(POLL_SECONDS, wait_seconds - waited))
    try:
        yield
    finally:
        with suppress(psycopg2.Error):  # a lost session has lost its lock with it
            unlock(conn, partition_key)
