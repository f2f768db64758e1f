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


def _try_lock(conn: connection, partition_key: str) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (_LOCK_CLASS, partition_key))
        return cur.fetchone()[0]


class BatchHold:
    """The lock of one batch, held on a dedicated autocommit connection."""

    def __init__(self, url: str, partition_key: str, wait_seconds: float) -> None:
        self.url, self.partition_key, self.wait_seconds = url, partition_key, wait_seconds
        self.conn: connection | None = None

    def acquire(self) -> None:
        """Poll for the lock up to `wait_seconds` (a blocking lock wait could not be bounded
        or interrupted cleanly), then raise `BatchBusy`."""
        self.conn = open_connection(self.url, APPLICATION_NAME, Bounds.from_env())
        self.conn.autocommit = True
        started = time.monotonic()
        while not _try_lock(self.conn, self.partition_key):
            waited = time.monotonic() - started
            if waited >= self.wait_seconds:
                self.release()
                raise BatchBusy(self.partition_key, round(waited, 1))
            time.sleep(min(POLL_SECONDS, self.wait_seconds - waited))

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
