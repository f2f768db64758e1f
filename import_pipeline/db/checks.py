"""The SQL behind the asset checks: rejects, held rows, foreign keys, order totals.

Each query is scoped to one batch or one (tenant, entity) so a check costs the same on the
millionth batch as on the first.
"""

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from functools import partial
from itertools import chain

import polars as pl
from psycopg2 import sql
from psycopg2.extensions import connection, cursor

from import_pipeline.core.entities import EntitySpec
from import_pipeline.db.copy import copy_rows, csv_rows
from import_pipeline.db.sql import parent_exists, target

MISMATCH_SAMPLE = 20
CHECKED_ORDERS = sql.Identifier("pg_temp", "checked_orders")


def rejected(conn: connection, partition_key: str, entity: str) -> int:
    """Rows of this batch's entity slice rejected by validation or by the database."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM ingest.rejects WHERE partition_key = %s AND entity = %s",
            (partition_key, entity),
        )
        return cur.fetchone()[0]


def held_outstanding(conn: connection, tenant: str, entity: str) -> tuple[int, str | None]:
    """How many rows of the entity wait for a parent, and since when the oldest waits."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*), min(held_at)::text FROM ingest.held_rows"
            " WHERE tenant = %s AND entity = %s",
            (tenant, entity),
        )
        count, oldest = cur.fetchone()
    return count, oldest


def held_of_batch(conn: connection, partition_key: str, entity: str) -> int:
    """How many rows of the entity that this batch held still wait for a parent."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM ingest.held_rows WHERE partition_key = %s AND entity = %s",
            (partition_key, entity),
        )
        return cur.fetchone()[0]


def unenforced_parents(conn: connection, spec: EntitySpec) -> list[str]:
    """Parents of `spec` whose foreign key is missing or NOT VALID in the database.

    While every foreign key exists and is validated, Postgres itself guarantees
    referential integrity, so the check needs no scan of the table.
    """
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT confrelid::regclass::text FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'f' AND convalidated",
            (f"commerce.{spec.name}",),
        )
        enforced = {row[0] for row in cur.fetchall()}
    return [p.field for p in spec.parents if f"commerce.{p.entity}" not in enforced]


def orphans(conn: connection, spec: EntitySpec, tenant: str, fields: list[str]) -> int:
    """Rows of the tenant whose parent (through one of `fields`) does not exist: the slow
    path, used only when a foreign key is not enforced."""
    missing = sql.SQL(" OR ").join(
        sql.SQL("NOT {}").format(parent_exists(p, p.spec, sql.Identifier("c", p.field)))
        for p in spec.parents
        if p.field in fields
    )
    with conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL("SELECT count(*) FROM {} c WHERE c.tenant = %(tenant)s AND ({})").format(
                target(spec), missing
            ),
            {"tenant": tenant},
        )
        return cur.fetchone()[0]


def order_total_mismatches(
    conns: Sequence[connection], tenant: str, order_ids: Iterable[pl.DataFrame]
) -> tuple[int, int, list[tuple[str, str, str]]]:
    """Orders among `order_ids` that have line items whose line totals do not add up to
    the order's total (to the cent). Returns (orders checked, mismatching, the first
    mismatches by id as (id, total, sum)).

    The ids arrive in frames of one column and are COPYed into a temp table, so a large
    batch's ids never sit in memory whole. Each connection takes the ids that hash to it
    and sums their orders side by side with the others: the sums are the last thing a
    fresh load waits for, and on one connection they use one core while the other idles.
    """
    parts = len(conns)
    with ExitStack() as stack:
        cursors = [stack.enter_context(_transaction(conn)) for conn in conns]
        for cur in cursors:
            cur.execute(
                sql.SQL(
                    "CREATE TEMP TABLE IF NOT EXISTS {} (order_id text) ON COMMIT DELETE ROWS"
                ).format(CHECKED_ORDERS)
            )
        for frame in order_ids:
            share = frame.get_column("order_id").hash(seed=0) % parts
            for part, cur in enumerate(cursors):
                copy_rows(cur, CHECKED_ORDERS, ["order_id"], csv_rows(frame.filter(share == part)))
        with ThreadPoolExecutor(parts, thread_name_prefix="order-totals") as pool:
            found = list(pool.map(partial(_mismatches, tenant=tenant), cursors))
    sample = sorted(chain.from_iterable(rows for _, _, rows in found))[:MISMATCH_SAMPLE]
    return sum(f[0] for f in found), sum(f[1] for f in found), sample


@contextmanager
def _transaction(conn: connection) -> Iterator[cursor]:
    with conn, conn.cursor() as cur:
        yield cur


def _mismatches(cur: cursor, tenant: str) -> tuple[int, int, list[tuple[str, str, str]]]:
    """One statement over the temp table's ids: counted DISTINCT by hashing (a
    `count(DISTINCT ..)` sorts by the database's collation), line totals summed per order
    before the join to the orders (the join-then-sum plan the planner took on freshly
    loaded tables was twice as slow; bench/README.md)."""
    cur.execute(sql.SQL("ANALYZE {}").format(CHECKED_ORDERS))
    cur.execute("SET LOCAL work_mem = '64MB'")
    cur.execute(
        sql.SQL(
            """
        WITH ids AS MATERIALIZED (
            SELECT DISTINCT order_id FROM {checked}
        ), sums AS (
            SELECT li.order_id, sum(li.line_total) AS lines
              FROM commerce.line_items li
             WHERE li.tenant = %(tenant)s
               AND li.order_id IN (SELECT order_id FROM ids)
             GROUP BY li.order_id
        ), mismatches AS (
            SELECT o.order_id, o.total, s.lines
              FROM sums s
              JOIN commerce.orders o ON o.tenant = %(tenant)s AND o.order_id = s.order_id
             WHERE abs(o.total - s.lines) > 0.01
        )
        SELECT (SELECT count(*) FROM ids), (SELECT count(*) FROM mismatches),
               sample.order_id, sample.total::text, sample.lines::text
          FROM (SELECT 1) AS one
          LEFT JOIN (SELECT * FROM mismatches ORDER BY order_id LIMIT %(sample)s) AS sample
            ON true
        """
        ).format(checked=CHECKED_ORDERS),
        {"tenant": tenant, "sample": MISMATCH_SAMPLE},
    )
    rows = cur.fetchall()
    checked, count = rows[0][:2]
    return checked, count, [(r[2], r[3], r[4]) for r in rows if r[2] is not None]
