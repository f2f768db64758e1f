"""One run at a time per batch: a session-level advisory lock on a connection of its own.

A run holds its batch's lock from its first step to its end, so a second run of the same
batch (a re-execution beside a zombie, a reconciliation beside a slow run) waits a bounded
time and then fails with `BatchBusy` instead of interleaving its writes with the first's.
The lock is the session's: a run whose process dies releases it at once. A server restart
ends the session too, so each step attempt confirms the lock first and takes it again.
"""

import time
from contextlib import suppress

import psycopg2
from psycopg2.extensions import connection

from import_pipeline.core.errors import DatabaseProblem
from import_pipeline.db.bounded import Bounds, open_connection

_LOCK_CLASS = 0x1A9019  # arbitrary, constant: "import_pipeline batch runs"
POLL_SECONDS = 0.5
APPLICATION_NAME = "import_pipeline batch lock"


class BatchBusy(Exception):
    """Another run holds the batch; this run neither staged nor loaded anything of it."""

    def __init__(self, partition_key: str, waited_seconds: float) -> None:
        self.partition_key = partition_key
        super().__init__(
            f"BatchBusy: batch {partition_key} is being loaded by another run (waited "
            f"{waited_seconds:g} s for it). Let that run finish or terminate it, then run the "
            "batch again; `ingest.files.run_id` names the run that has it."
        )


def _lock_all(conn: connection, partition_keys: list[str]) -> list[str]:
    """Take every lock that is free; return the keys whose lock another session holds
    (the locks taken stay taken: a later poll asks only for the others)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT k FROM unnest(%s::text[]) WITH ORDINALITY AS u(k, i)"
            " WHERE NOT pg_try_advisory_lock(%s, hashtext(k)) ORDER BY i",
            (partition_keys, _LOCK_CLASS),
        )
        return [row[0] for row in cur.fetchall()]


class BatchHold:
    """The locks of a run's batches (one, or every batch of a range), held on one dedicated
    autocommit connection."""

    def __init__(self, url: str, partition_keys: list[str], wait_seconds: float) -> None:
        self.url, self.partition_keys, self.wait_seconds = url, partition_keys, wait_seconds
        self.conn: connection | None = None

    def acquire(self) -> None:
        """Poll for the locks up to `wait_seconds` (a blocking lock wait could not be bounded
        or interrupted cleanly), then raise `BatchBusy` naming the first batch still held."""
        self.conn = open_connection(self.url, APPLICATION_NAME, Bounds.from_env())
        self.conn.autocommit = True
        started = time.monotonic()
        busy = _lock_all(self.conn, self.partition_keys)
        while busy:
            waited = time.monotonic() - started
            if waited >= self.wait_seconds:
                self.release()
                raise BatchBusy(busy[0], round(waited, 1))
            time.sleep(min(POLL_SECONDS, self.wait_seconds - waited))
            busy = _lock_all(self.conn, busy)

    def confirm(self) -> None:
        """Take the lock again if its session is gone (the lock went with it)."""
        try:
            with self.conn.cursor() as cur:
                cur.execute("SELECT 1")
        except (psycopg2.Error, DatabaseProblem):
            self.release()
            self.acquire()

    def release(self) -> None:
        """Close the connection: ending the session releases its advisory locks (a session
        already lost has lost its lock with it)."""
        if self.conn is not None:
            with suppress(psycopg2.Error):
                self.conn.close()
            self.conn = None
