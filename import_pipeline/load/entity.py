"""One entity's load of a staged batch, from plain arguments: expire and release held
rows, load the staged rows chunk by chunk, save the database's rejects, record the counts
in the ledger, finish the batch when every entity is in, and compute its checks' inputs.

Dagster stays above: progress reaches its log through `log`, a stop through `stopped`.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass

import polars as pl
from psycopg2.extensions import connection

from import_pipeline.core.columns import BATCH, ERRORS
from import_pipeline.core.entities import Check, EntitySpec
from import_pipeline.core.errors import LoadCancelled
from import_pipeline.core.rejects import rejects_csv
from import_pipeline.core.report import PARTIAL_FIELDS, LoadCounts
from import_pipeline.db import checks as check_sql
from import_pipeline.db import ledger, report
from import_pipeline.db.loader import DbReject, load_chunks
from import_pipeline.files import layout
from import_pipeline.files.store import Store
from import_pipeline.load import changes
from import_pipeline.load.changes import Changed
from import_pipeline.load.checks import CheckInput, Judged, check_inputs
from import_pipeline.load.held import expire_and_release

LOADER = "import_pipeline loader"
"""The application name of the connections that load chunks, to tell them apart."""

Connect = Callable[..., AbstractContextManager[connection]]
"""Opens a new connection; an optional argument names it in pg_stat_activity."""


class BatchNotInLedger(Exception):
    """The batch a load was asked for was never registered in `ingest.files`."""


@dataclass(frozen=True)
class LoadOptions:
    """How an entity loads: chunk size, connections side by side, held rows' max age,
    the reject rate a batch without staging's figures is judged by."""

    chunk_rows: int
    connections: int
    held_max_age_seconds: float
    max_reject_rate: float


@dataclass(frozen=True)
class EntityLoad:
    """What an entity's load did: its counts, the rows it read, staging's accounting of
    the entity (None when the batch does not feed it), its rejects and its checks' inputs."""

    row_count: int
    counts: LoadCounts
    staged: dict | None
    rejected: int
    db_rejects: list[DbReject]
    db_rejects_file: str | None
    checks: dict[Check, CheckInput]
    batch_entities: set[str]
    seconds: float
    changed: Changed


def claim(
    conn: connection, store: Store, partition_key: str, run_id: str, selected: list[EntitySpec]
) -> None:
    """Mark the batch running under this run before its entity loads, so the ledger
    describes this attempt (a retry, or a re-execution from failure) and not an earlier
    one: its run id, the counts of the entities it does not load again, and their rows."""
    row_count = sum(
        store.scan_parquet(layout.staged_folder(partition_key, e.name))
        .select(pl.len())
        .collect()
        .item()
        for e in selected
    )
    ledger.resume(conn, partition_key, run_id, [e.name for e in selected], row_count)


class Progress:
    """Mirrors rows done into the ledger after every chunk, and logs rows/s and an ETA at
    most every LOG_EVERY seconds (and after the last chunk of a load that logged before):
    each log line is an event the Dagster instance stores, and a load shorter than
    LOG_EVERY has its rate in the materialization's metadata already."""

    LOG_EVERY = 5.0

    def __init__(
        self,
        conn: connection,
        partition_key: str,
        entity: str,
        total: int,
        log: Callable[[str], None],
    ):
        self.conn, self.partition_key, self.entity, self.total = conn, partition_key, entity, total
        self.log = log
        self.done = 0
        self.started = self.logged = time.monotonic()

    def __call__(self, row_count: int) -> None:
        self.done += row_count
        ledger.progress(self.conn, self.partition_key, row_count)
        now = time.monotonic()
        never_logged = self.logged == self.started
        if now - self.logged < self.LOG_EVERY and (self.done < self.total or never_logged):
            return
        self.logged = now
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        self.log(
            f"{self.entity}: {self.done:,}/{self.total:,} rows, {rate:,.0f} rows/s, ETA {eta:,.0f}s"
        )


def chunks(
    lazy: pl.LazyFrame, total: int, size: int, batch: str, stopped: Callable[[], bool]
) -> Iterator[pl.DataFrame]:
    """Key-ordered slices of the staged rows, read one at a time to bound memory; once
    `stopped()` (Terminate), the next one raises LoadCancelled instead, so a load stops
    within a chunk (the loader finishes the chunks it has in flight)."""
    for offset in range(0, total, size):
        if stopped():
            raise LoadCancelled(f"stopped after {offset:,} of {total:,} rows")
        yield lazy.slice(offset, size).collect().with_columns(pl.lit(batch).alias(BATCH))


def load_entity(
    connect: Connect,
    store: Store,
    spec: EntitySpec,
    partition_key: str,
    run_id: str,
    options: LoadOptions,
    entities: list[str],
    wanted: set[str],
    stopped: Callable[[], bool],
    log: Callable[[str], None],
) -> EntityLoad:
    """Load the entity's staged rows of the batch and record what it did; a failure is
    mirrored into the ledger and raised. `entities` are every entity a batch may feed (the
    batch finishes once each is recorded), `wanted` the checks to compute inputs for."""
    started = time.monotonic()
    with connect() as conn:
        batch = ledger.get(conn, partition_key)
        if batch is None:
            raise BatchNotInLedger(f"batch {partition_key} is not in the ledger (ingest.files)")
        with ledger.failures_recorded(connect, partition_key, run_id):
            released = expire_and_release(conn, spec, batch.tenant, options.held_max_age_seconds)
            # Staging recorded which fields keep the stored value when blank (partial rows).
            staged_fields = report.accounting(conn, partition_key).get(spec.name, {})
            partial = frozenset(staged_fields.get(PARTIAL_FIELDS, ()))
            lazy = store.scan_parquet(layout.staged_folder(partition_key, spec.name))
            total = lazy.select(pl.len()).collect().item()
            # A second connection only pays when there is a second chunk to give it.
            connections = max(options.connections, 1) if total > options.chunk_rows else 1
            with ExitStack() as stack:
                loaders = [stack.enter_context(connect(LOADER)) for _ in range(connections)]
                loaded, db_rejects = load_chunks(
                    loaders[0],
                    spec,
                    chunks(lazy, total, options.chunk_rows, partition_key, stopped),
                    batch.tenant,
                    Progress(conn, partition_key, spec.name, total, log),
                    more_connections=loaders[1:],
                    partial=partial,
                )
                ledger.save_db_rejects(conn, partition_key, spec.name, db_rejects)
                db_rejects_file = _write_db_rejects(store, partition_key, spec, db_rejects)
                counts = loaded + released
                changed = changes.expose(conn, store, spec, batch.tenant, partition_key, counts)
                ledger.record(conn, partition_key, spec.name, counts.as_dict())
                ledger.finish_if_complete(conn, partition_key, entities)
                accounting = report.accounting(conn, partition_key)
                staged = accounting.get(spec.name)
                rejected = check_sql.rejected(conn, partition_key, spec.name)
                judged = Judged(
                    partition_key, batch.tenant, counts, staged, rejected, options.max_reject_rate
                )
                inputs = check_inputs(
                    conn, loaders, store, spec, judged, wanted, options.chunk_rows
                )
    return EntityLoad(
        row_count=total,
        counts=counts,
        staged=staged,
        rejected=rejected,
        db_rejects=db_rejects,
        db_rejects_file=db_rejects_file,
        checks=inputs,
        batch_entities=set(accounting),
        seconds=time.monotonic() - started,
        changed=changed,
    )


def _write_db_rejects(
    store: Store, partition_key: str, spec: EntitySpec, rejects: list[DbReject]
) -> str | None:
    """Rows the database refused, as a rejects CSV of their own beside the staged output
    (the batch's rejects.csv was written before the load knew about them)."""
    if not rejects:
        return None
    frame = pl.DataFrame([r.row for r in rejects])
    frame = frame.with_columns(pl.Series(ERRORS, [[r.error] for r in rejects]))
    return store.write_bytes(layout.db_rejects_file(partition_key, spec.name), rejects_csv(frame))
