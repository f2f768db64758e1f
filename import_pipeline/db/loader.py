"""Load an entity's staged rows chunk by chunk over one or more connections.

The next chunk is read and fingerprinted in a background thread while chunks are in the
database; a chunk a constraint refuses is split until the offending rows are isolated as
rejects; each chunk's strategy (direct COPY, summary, probe, upsert) is `db/upsert.py`'s.
"""

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from itertools import islice
from queue import SimpleQueue
from typing import TypeVar

import polars as pl
from psycopg2.extensions import connection

from import_pipeline.core.columns import BATCH, FINGERPRINT, PROBLEM, ROW
from import_pipeline.core.entities import EntitySpec
from import_pipeline.core.report import LoadCounts
from import_pipeline.db import held, holders, upsert
from import_pipeline.db.chunk import Chunk, prepare
from import_pipeline.db.retry import CONSTRAINT_ERRORS, constraint_label, with_retry
from import_pipeline.db.sql import create_probe, create_stage

_T = TypeVar("_T")
_U = TypeVar("_U")


@dataclass(frozen=True)
class DbReject:
    """A row the database refused although validation passed it (e.g. a duplicate SKU):
    its source row number and staged values, without the load's own columns (batch,
    fingerprint), as they go to `ingest.rejects.raw` and the batch's rejects CSV, with
    `_problem` naming the row that holds a clashing SKU or barcode (else None)."""

    source_row: int
    error: str
    row: dict


def prefetched(items: Iterable[_T], work: Callable[[_T], _U]) -> Iterator[_U]:
    """`work(item)` for every item, the next one computed in a background thread while
    the caller uses the current one (polars and psycopg2 both release the GIL).

    One worker and one pending item bound memory to about two prepared items. An
    exception from iterating `items` or from `work` is raised to the caller at the item
    it belongs to. Closing the generator (use `contextlib.closing`) waits for the pending
    item, so the thread never outlives the caller.
    """
    source = iter(items)

    def next_done() -> list[_U]:
        """The next item's result, or [] when the items are exhausted."""
        return [work(item) for item in islice(source, 1)]

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch") as pool:
        pending = pool.submit(next_done)
        while done := pending.result():
            pending = pool.submit(next_done)
            yield done[0]


def load_chunk(
    conn: connection, chunk: Chunk, drop_held: bool
) -> tuple[LoadCounts, list[DbReject]]:
    """Load one chunk in one transaction, retrying deadlocks; isolate constraint rejects."""
    try:
        return with_retry(conn, lambda cur: upsert.upsert_chunk(cur, chunk, drop_held)), []
    except CONSTRAINT_ERRORS as exc:
        conn.rollback()
        if chunk.height == 1:
            row = chunk.rows.drop(BATCH, FINGERPRINT).row(0, named=True)
            constraint = getattr(getattr(exc, "diag", None), "constraint_name", None)
            row[PROBLEM] = holders.clash(conn, chunk.spec, chunk.tenant, constraint, row)
            return LoadCounts(rejected=1), [DbReject(row[ROW], constraint_label(exc), row)]
        half = chunk.height // 2
        counts, rejects = LoadCounts(), []
        for part in (chunk.rows[:half], chunk.rows[half:]):
            more, more_rejects = load_chunk(conn, chunk.of(part), drop_held)
            counts, rejects = counts + more, rejects + more_rejects
        return counts, rejects


def load_chunks(
    conn: connection,
    spec: EntitySpec,
    chunks: Iterable[pl.DataFrame],
    tenant: str,
    on_chunk: Callable[[int], None] | None = None,
    more_connections: Sequence[connection] = (),
    partial: frozenset[str] = frozenset(),
) -> tuple[LoadCounts, list[DbReject]]:
    """Load staged rows chunk by chunk (`partial`: the fields whose blank value keeps the
    stored one); `on_chunk(rows_in_chunk)` reports progress.

    With `more_connections`, chunks are loaded side by side, one per connection: the
    database checks foreign keys row by row on one core per connection, so a second
    connection uses the second core. Chunks are disjoint key ranges in transactions of
    their own, so their order does not matter. The next chunk is read and fingerprinted in
    a background thread meanwhile; no thread outlives this call, and at most one chunk per
    connection is in flight, plus one being prepared. `on_chunk` runs on the calling
    thread while chunks are in flight, so it must not use these connections.
    """
    connections = [conn, *more_connections]
    for each in connections:
        with each, each.cursor() as cur:
            cur.execute(create_stage(spec))
            cur.execute(create_probe(spec))
    with conn, conn.cursor() as cur:
        drop_held = held.any_held(cur, spec, tenant)
    idle: SimpleQueue[connection] = SimpleQueue()
    for each in connections:
        idle.put(each)

    def load(chunk: Chunk) -> tuple[int, tuple[LoadCounts, list[DbReject]]]:
        loader = idle.get()
        try:
            return chunk.height, load_chunk(loader, chunk, drop_held)
        finally:
            idle.put(loader)

    totals, rejects = LoadCounts(), []

    def fold(future: Future) -> None:
        nonlocal totals, rejects
        rows, (counts, chunk_rejects) = future.result()
        totals, rejects = totals + counts, rejects + chunk_rejects
        if on_chunk is not None:
            on_chunk(rows)

    nonempty = (rows for rows in chunks if rows.height)
    in_flight: deque[Future] = deque()
    with (
        ThreadPoolExecutor(len(connections), thread_name_prefix="load") as pool,
        closing(
            prefetched(nonempty, lambda rows: prepare(spec, rows, tenant, partial))
        ) as prepared,
    ):
        try:
            for chunk in prepared:
                in_flight.append(pool.submit(load, chunk))
                while in_flight and (len(in_flight) >= len(connections) or in_flight[0].done()):
                    fold(in_flight.popleft())
        finally:  # chunks that committed count, also when a stop or a failure ends the load
            for future in in_flight:
                if future.exception() is None:
                    fold(future)
        for future in in_flight:
            future.result()  # a chunk that failed fails the load
    return totals, rejects
