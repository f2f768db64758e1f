"""The SQL of a purge: a tenant's rows deleted children first, in key-ordered chunks that
are each their own short transaction (readers never wait on a row lock, and no chunk holds
its locks for long), or one TRUNCATE when a table holds that tenant alone.

A chunk never deletes a row that a row outside the purge still references (a batch purge's
customer with another batch's orders): that row is kept and counted.
"""

import json
from dataclasses import dataclass, field

from psycopg2 import errors, sql
from psycopg2.extensions import connection, cursor

from import_pipeline.core.columns import BATCH, TENANT
from import_pipeline.core.entities import ENTITIES, EntitySpec
from import_pipeline.core.errors import DatabaseTimeout
from import_pipeline.core.purge import PurgePlan, truncatable
from import_pipeline.db.sql import ident, target


@dataclass
class PurgeCounts:
    """What a purge did: rows deleted and kept per entity, held rows, truncated tables."""

    deleted: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    held_rows: int = 0
    truncated: list[str] = field(default_factory=list)
    truncate_skipped: str = ""

    def as_json(self) -> dict:
        return {
            "deleted": self.deleted,
            "kept_referenced": self.kept,
            "held_rows": self.held_rows,
            "truncate_skipped": self.truncate_skipped,
        }


def start(conn: connection, plan: PurgePlan, run_id: str | None) -> int:
    """Record the purge as running in `ingest.purges`; return its id."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO ingest.purges (tenant, entities, partition_key, run_id)"
            " VALUES (%s, %s, %s, %s) RETURNING purge_id",
            (plan.tenant, plan.entity_names, plan.batch, run_id),
        )
        return cur.fetchone()[0]


def finish(conn: connection, purge_id: int, counts: PurgeCounts, error: str | None) -> None:
    """Record how the purge ended (a failed one keeps the counts of what it deleted)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ingest.purges SET status = %s, truncated = %s, counts = %s, error = %s,"
            " finished_at = now() WHERE purge_id = %s",
            (
                "failed" if error else "succeeded",
                counts.truncated,
                json.dumps(counts.as_json()),
                error,
                purge_id,
            ),
        )


def purge(conn: connection, plan: PurgePlan, chunk_rows: int, lock_wait_ms: int) -> PurgeCounts:
    """Delete the plan's held rows, then its rows entity by entity, children first."""
    counts = PurgeCounts()
    for spec in plan.entities:
        counts.held_rows += delete_held(conn, plan, spec, chunk_rows)
    counts.truncated, counts.truncate_skipped = truncate_sole(conn, plan, lock_wait_ms)
    for spec in plan.entities:
        if spec.name in counts.truncated:
            continue
        deleted, kept = delete_rows(conn, plan, spec, chunk_rows)
        counts.deleted[spec.name], counts.kept[spec.name] = deleted, kept
    return counts


def delete_held(conn: connection, plan: PurgePlan, spec: EntitySpec, chunk_rows: int) -> int:
    """The tenant's held rows of `spec` (of the batch, if one is named), chunk by chunk."""
    statement = sql.SQL(
        "DELETE FROM ingest.held_rows WHERE tenant = %(tenant)s AND entity = %(entity)s"
        " AND key IN (SELECT key FROM ingest.held_rows WHERE tenant = %(tenant)s"
        " AND entity = %(entity)s AND (%(batch)s::text IS NULL OR partition_key = %(batch)s)"
        " ORDER BY key LIMIT %(limit)s)"
    )
    params = {"tenant": plan.tenant, "entity": spec.name, "batch": plan.batch, "limit": chunk_rows}
    total = 0
    while True:
        with conn, conn.cursor() as cur:
            cur.execute(statement, params)
            total += cur.rowcount
        if cur.rowcount < chunk_rows:
            return total


def _sole_tenant(cur: cursor, tenant: str, names: list[str]) -> set[str]:
    """Of tables `names`, those holding rows of `tenant` and of no other (min and max of
    the primary key's leading column: two index probes, however large the table)."""
    sole = set()
    for name in names:
        cur.execute(
            sql.SQL("SELECT min({t}), max({t}) FROM {table}").format(
                t=ident(TENANT), table=target(ENTITIES[name])
            )
        )
        if cur.fetchone() == (tenant, tenant):
            sole.add(name)
    return sole


def truncate_sole(conn: connection, plan: PurgePlan, lock_wait_ms: int) -> tuple[list[str], str]:
    """TRUNCATE the tables only the tenant's rows fill, in one statement; the tables are
    locked (waiting at most `lock_wait_ms`, so readers queue no longer) and checked again
    under the lock, so another tenant's rows committed meanwhile are never truncated.
    Returns the tables truncated, and why none was when one could have been."""
    with conn, conn.cursor() as cur:
        names = truncatable(plan, _sole_tenant(cur, plan.tenant, plan.entity_names))
    if not names:
        return [], ""
    tables = sql.SQL(", ").join(target(ENTITIES[name]) for name in names)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT set_config('lock_timeout', %s, true)", (f"{lock_wait_ms}ms",))
            cur.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(tables))
            if _sole_tenant(cur, plan.tenant, names) != set(names):
                conn.rollback()
                return [], "another tenant's rows arrived before the tables were locked"
            cur.execute(sql.SQL("TRUNCATE {}").format(tables))
    except (errors.LockNotAvailable, DatabaseTimeout):
        return [], f"readers held {', '.join(names)} for over {lock_wait_ms} ms"
    return names, ""


def delete_rows(
    conn: connection, plan: PurgePlan, spec: EntitySpec, chunk_rows: int
) -> tuple[int, int]:
    """Delete the plan's rows of `spec` in key order, `chunk_rows` keys a transaction;
    return (deleted, kept because a row outside the purge references them)."""
    statement = _delete_chunk(spec)
    params = {"tenant": plan.tenant, "batch": plan.batch, "after": None, "limit": chunk_rows}
    deleted = kept = 0
    while True:
        with conn, conn.cursor() as cur:
            cur.execute(statement, params)
            last, seen, gone = cur.fetchone()
        deleted, kept = deleted + gone, kept + seen - gone
        if seen < chunk_rows:
            return deleted, kept
        params["after"] = last


def _delete_chunk(spec: EntitySpec) -> sql.Composable:
    """One chunk: the next `limit` keys after `after` (of the batch, if named), deleted
    unless referenced; answers the chunk's last key, its size and how many went."""
    return sql.SQL(
        """
        WITH chunk AS (
            SELECT {key} FROM {table}
            WHERE {tenant} = %(tenant)s AND (%(after)s::text IS NULL OR {key} > %(after)s)
              AND (%(batch)s::text IS NULL OR {batch} = %(batch)s)
            ORDER BY {key} LIMIT %(limit)s
        ), gone AS (
            DELETE FROM {table} t USING chunk c
            WHERE t.{tenant} = %(tenant)s AND t.{key} = c.{key}{unreferenced}
            RETURNING 1
        )
        SELECT (SELECT max({key}) FROM chunk), (SELECT count(*) FROM chunk),
               (SELECT count(*) FROM gone)
        """
    ).format(
        key=ident(spec.key),
        table=target(spec),
        tenant=ident(TENANT),
        batch=ident(BATCH),
        unreferenced=_unreferenced(spec),
    )


def _unreferenced(spec: EntitySpec) -> sql.Composable:
    """` AND NOT EXISTS (...)` for each child table's foreign key to `spec`."""
    guards = [
        sql.SQL(
            " AND NOT EXISTS (SELECT 1 FROM {child} r WHERE r.{tenant} = t.{tenant}"
            " AND r.{field} = t.{key})"
        ).format(
            child=target(child),
            tenant=ident(TENANT),
            field=ident(parent.field),
            key=ident(spec.key),
        )
        for child in ENTITIES.values()
        for parent in child.parents
        if parent.entity == spec.name
    ]
    return sql.Composed(guards)
