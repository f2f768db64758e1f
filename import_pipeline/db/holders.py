"""Which stored row holds the alternate key (a SKU, a barcode) that a refused row claimed,
so its reject can say which product to look at."""

from psycopg2 import sql
from psycopg2.extensions import connection

from import_pipeline.core.columns import TENANT
from import_pipeline.core.entities import EntitySpec
from import_pipeline.db.sql import ident, target


def clash(
    conn: connection, spec: EntitySpec, tenant: str, constraint: str | None, row: dict
) -> str | None:
    """`barcode 4006381333931 is held by products P1` when `constraint` is one of the
    entity's unique keys and another row of the tenant holds the refused row's value;
    else None (another kind of constraint, or the holder is gone)."""
    if not constraint:
        return None
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT a.attname FROM pg_constraint c"
            "  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)"
            " WHERE c.conname = %s AND c.contype = 'u' AND c.conrelid = %s::regclass"
            " ORDER BY a.attnum",
            (constraint, f"commerce.{spec.name}"),
        )
        columns = [name for (name,) in cur.fetchall() if name != TENANT]
        if not columns or any(c not in spec.field_names or row.get(c) is None for c in columns):
            return None
        matches = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(ident(c)) for c in columns)
        cur.execute(
            sql.SQL("SELECT {key} FROM {target} WHERE tenant = %s AND {matches} LIMIT 1").format(
                key=ident(spec.key), target=target(spec), matches=matches
            ),
            (tenant, *(row[c] for c in columns)),
        )
        found = cur.fetchone()
    if found is None:
        return None
    values = ", ".join(f"{c} {row[c]}" for c in columns)
    return f"{values} is held by {spec.name} {found[0]}"
