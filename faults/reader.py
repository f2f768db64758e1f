"""A reader that queries the business tables throughout a load and fails if the loader ever
takes a table lock: every query waits at most `lock_timeout`, and between queries it looks
in pg_locks for a table lock the loader's sessions hold that blocks readers or writers."""

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import psycopg2
from psycopg2 import sql

from bench.generate import ENTITY_ORDER
from faults.drops import Drops, land, wait_done, wait_running
from faults.kill import listed
from faults.report import Figure
from faults.tables import Snapshot, compare, ledger_words, snapshot
from faults.world import World

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
        conn = psycopg2.connect(self.dsn, application_name="faults_reader")
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
            self.reading.timeouts.append(f"{table}: {exc.pgerror.strip()}")
        waited = (time.monotonic() - started) * 1000
        self.reading.longest_ms = max(self.reading.longest_ms, waited)
        self.reading.queries += 1

    def stop(self) -> Reading:
        self._stopping.set()
        self.join()
        return self.reading


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
