"""Held rows: children whose parent is in neither the database nor their batch.

They wait in `ingest.held_rows` (typed, as JSON) and are loaded by the first later run of
their entity whose parents now exist, or become rejects once older than the max age.
"""

from collections.abc import Callable

from psycopg2 import sql
from psycopg2.extensions import cursor

from import_pipeline.core.columns import BATCH, ROW
from import_pipeline.core.entities import EntitySpec
from import_pipeline.db.sql import ident, parent_exists, stage, version_number


def _missing_parents(spec: EntitySpec, value: Callable[[str], sql.Composable]) -> sql.Composable:
    """`text[]` of the fields whose parent row is missing, `value(field)` being a row's
    value of the field (a stage row's column, or a held row's payload)."""
    cases = [
        sql.SQL("CASE WHEN NOT {ok} THEN {name} END").format(
            ok=parent_exists(p, p.spec, value(p.field)),
            name=sql.Literal(p.field),
        )
        for p in spec.parents
    ]
    return sql.SQL("array_remove(ARRAY[{}]::text[], NULL)").format(sql.SQL(", ").join(cases))


def _stage_value(field: str) -> sql.Composable:
    return sql.Identifier("s", field)


def _payload_value(field: str) -> sql.Composable:
    return sql.SQL("(h.payload ->> {})").format(sql.Literal(field))


_LOCK_CLASS = 0x1A9018  # arbitrary, constant: "import_pipeline held rows"


def _lock(cur: cursor, spec: EntitySpec, tenant: str, *, exclusive: bool) -> None:
    """Serialise holding against releasing for one (tenant, entity).

    Without it, a run could find a parent missing, then another run could commit that
    parent and release held rows before the first run's new held row is committed: the
    row would wait for a parent that has already arrived. Chunk loads share the lock;
    a release takes it alone, so it sees every hold decided before the parent existed.
    """
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    cur.execute(
        sql.SQL("SELECT {}(%s, hashtext(%s))").format(sql.Identifier(function)),
        (_LOCK_CLASS, f"{tenant}/{spec.name}"),
    )


def hold_orphans(cur: cursor, spec: EntitySpec, tenant: str) -> int:
    """Move stage rows with a missing parent into held rows; return how many moved."""
    _lock(cur, spec, tenant, exclusive=False)
    statement = sql.SQL(
        """
        WITH checked AS (
            SELECT s.ctid AS id, {missing} AS missing FROM {stage} s
        ), orphans AS (
            DELETE FROM {stage} s USING checked c
             WHERE s.ctid = c.id AND cardinality(c.missing) > 0
            RETURNING s.*, c.missing AS _missing
        ), kept AS (
            INSERT INTO ingest.held_rows AS h
                   (tenant, entity, key, partition_key, source_row, missing, payload, version)
            SELECT %(tenant)s, %(entity)s, o.{key}, o.{batch}, o.{row}, o._missing,
                   to_jsonb(o) - '_missing', {version}
              FROM orphans o ORDER BY o.{key}
            ON CONFLICT (tenant, entity, key) DO UPDATE
               SET (partition_key, source_row, missing, payload, version)
                 = (EXCLUDED.partition_key, EXCLUDED.source_row, EXCLUDED.missing,
                    EXCLUDED.payload, EXCLUDED.version)
             WHERE EXCLUDED.version >= h.version
            RETURNING 1
        )
        SELECT count(*) FROM orphans
        """
    ).format(
        missing=_missing_parents(spec, _stage_value),
        stage=stage(spec),
        key=ident(spec.key),
        batch=ident(BATCH),
        row=ident(ROW),
        version=version_number(spec, ident("o", spec.version.field)),
    )
    cur.execute(statement, {"tenant": tenant, "entity": spec.name})
    return cur.fetchone()[0]


def any_held(cur: cursor, spec: EntitySpec, tenant: str) -> bool:
    cur.execute(
        "SELECT EXISTS (SELECT 1 FROM ingest.held_rows WHERE tenant = %s AND entity = %s)",
        (tenant, spec.name),
    )
    return cur.fetchone()[0]


def drop_superseded(cur: cursor, spec: EntitySpec, tenant: str) -> None:
    """A held row loses to a version of its key that just loaded and is not older."""
    cur.execute(
        sql.SQL(
            "DELETE FROM ingest.held_rows h USING {stage} s"
            " WHERE h.tenant = %(tenant)s AND h.entity = %(entity)s"
            " AND h.key = s.{key} AND h.version <= {version}"
        ).format(
            stage=stage(spec),
            key=ident(spec.key),
            version=version_number(spec, ident("s", spec.version.field)),
        ),
        {"tenant": tenant, "entity": spec.name},
    )


def release_ready(cur: cursor, spec: EntitySpec, tenant: str) -> int:
    """Move held rows whose parents now all exist back into the (empty) stage table, to be
    upserted like any chunk; return how many were released."""
    ready = sql.SQL(" AND ").join(
        parent_exists(p, p.spec, _payload_value(p.field)) for p in spec.parents
    )
    _lock(cur, spec, tenant, exclusive=True)
    cur.execute(sql.SQL("TRUNCATE {}").format(stage(spec)))
    cur.execute(
        sql.SQL(
            """
            WITH ready AS (
                DELETE FROM ingest.held_rows h
                 WHERE h.tenant = %(tenant)s AND h.entity = %(entity)s AND {ready}
                RETURNING h.payload
            )
            INSERT INTO {stage} SELECT r.* FROM ready,
                   jsonb_populate_record(NULL::{stage}, ready.payload) r
            """
        ).format(ready=ready, stage=stage(spec)),
        {"tenant": tenant, "entity": spec.name},
    )
    return cur.rowcount


def recheck_missing(cur: cursor, spec: EntitySpec, tenant: str) -> int:
    """Recompute what each held row of (tenant, entity) is missing now, so its reason and
    an expiry reject name only the parents that are still absent; return how many changed."""
    cur.execute(
        sql.SQL(
            "UPDATE ingest.held_rows h SET missing = now_missing.fields"
            " FROM (SELECT h.ctid AS id, {missing} AS fields FROM ingest.held_rows h"
            "        WHERE h.tenant = %(tenant)s AND h.entity = %(entity)s) now_missing"
            " WHERE h.ctid = now_missing.id AND h.missing IS DISTINCT FROM now_missing.fields"
        ).format(missing=_missing_parents(spec, _payload_value)),
        {"tenant": tenant, "entity": spec.name},
    )
    return cur.rowcount


def expire(cur: cursor, spec: EntitySpec, tenant: str, max_age_seconds: float) -> int:
    """Held rows older than the max age become rejects (`<field>:parent_missing`) of the
    batch that brought them, naming the parents still missing (call `recheck_missing`
    first); a row missing nothing any more is left to be released. Return how many."""
    cur.execute(
        """
        WITH expired AS (
            DELETE FROM ingest.held_rows
             WHERE tenant = %(tenant)s AND entity = %(entity)s AND cardinality(missing) > 0
               AND held_at < now() - make_interval(secs => %(age)s)
            RETURNING partition_key, entity, source_row, missing, payload
        )
        INSERT INTO ingest.rejects (partition_key, entity, source_row, errors, raw)
        SELECT partition_key, entity, source_row,
               to_jsonb(ARRAY(SELECT m || ':parent_missing' FROM unnest(missing) m)), payload
          FROM expired
        ON CONFLICT (partition_key, entity, source_row) DO NOTHING
        """,
        {"tenant": tenant, "entity": spec.name, "age": max_age_seconds},
    )
    return cur.rowcount


def tenants_holding(cur: cursor) -> list[str]:
    cur.execute("SELECT DISTINCT tenant FROM ingest.held_rows ORDER BY tenant")
    return [row[0] for row in cur.fetchall()]


def entities_holding(cur: cursor, tenant: str) -> set[str]:
    """The entities the tenant has rows held for."""
    cur.execute("SELECT DISTINCT entity FROM ingest.held_rows WHERE tenant = %s", (tenant,))
    return {row[0] for row in cur.fetchall()}
