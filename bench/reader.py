"""A reader that queries the business tables while something loads or purges them, and
records every lock timeout and table lock it meets: every query waits at most
`lock_timeout`, and between queries it looks in pg_locks for a table lock the pipeline's
sessions hold that blocks readers or writers. The fault suite and the purge benchmark both
run it."""

import threading
import time
from dataclasses import dataclass, field

import psycopg2
from psycopg2 import sql

from bench.generate import ENTITY_ORDER

LOCK_TIMEOUT_MS = 20
"""A reader's query never waits longer; a chunk's transaction holding a table lock lasts
far longer, so a lock the loader takes shows as a lock timeout."""

BLOCKING_MODES = ("ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock")
"""Table lock modes that block readers or writers (a load needs none of them). Only locks
of `locktype` relation: extending a table's file takes an ExclusiveLock of locktype
`extend` on it, which blocks nobody's reads or writes."""

TABLE_LOCKS = """
SELECT l.mode || ' on ' || c.relname
FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'relation' AND n.nspname = 'commerce' AND l.granted AND l.mode = ANY(%s)
  AND a.application_name = 'import_pipeline'
"""

HOLDERS = """
SELECT coalesce(nullif(a.application_name, ''), a.backend_type) || ' held ' || l.mode
  || coalesce(': ' || left(a.query, 120), '')
FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE n.nspname = 'commerce' AND c.relname = %s AND l.granted AND l.mode = 'AccessExclusiveLock'
"""
"""Who holds the lock a reader's query timed out on (any session, autovacuum included),
when it still does: a timeout then says what blocked it, not only that it waited."""


@dataclass
class Reading:
    """What the reader saw: queries answered, lock timeouts, the longest wait, table locks."""

    queries: int = 0
    timeouts: list[str] = field(default_factory=list)
    longest_ms: float = 0.0
    locks: set[str] = field(default_factory=set)

    @property
    def blocked(self) -> bool:
        return bool(self.timeouts or self.locks)


class Reader(threading.Thread):
    """Queries every business table in turn, as fast as it can, until `stop()`."""

    def __init__(self, dsn: str) -> None:
        super().__init__(daemon=True)
        self.dsn = dsn
        self.reading = Reading()
        self._stopping = threading.Event()

    def run(self) -> None:
        conn = psycopg2.connect(self.dsn, application_name="lock_reader")
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SET lock_timeout = %s", (f"{LOCK_TIMEOUT_MS}ms",))
                while not self._stopping.is_set():
                    for table in ENTITY_ORDER:
                        self._read(cur, table)
                    cur.execute(TABLE_LOCKS, (list(BLOCKING_MODES),))
                    self.reading.locks.update(r[0] for r in cur.fetchall())
        finally:
            conn.close()

    def _read(self, cur: psycopg2.extensions.cursor, table: str) -> None:
        statement = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} LIMIT 1000) AS t").format(
            sql.Identifier("commerce", table)
        )
        started = time.monotonic()
        try:
            cur.execute(statement)
            cur.fetchone()
        except psycopg2.errors.LockNotAvailable as exc:
            cur.execute(HOLDERS, (table,))
            holders = "; ".join(r[0] for r in cur.fetchall()) or "released before it was seen"
            self.reading.timeouts.append(f"{table}: {exc.pgerror.strip()} (holder: {holders})")
        waited = (time.monotonic() - started) * 1000
        self.reading.longest_ms = max(self.reading.longest_ms, waited)
        self.reading.queries += 1

    def stop(self) -> Reading:
        self._stopping.set()
        self.join()
        return self.reading
