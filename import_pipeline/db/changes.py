"""Which rows a batch wrote, for consumers downstream of the entities (a search index)."""

from collections.abc import Iterable

from psycopg2 import sql
from psycopg2.extensions import connection

from import_pipeline.core.columns import BATCH, TENANT
from import_pipeline.core.entities import PRODUCTS, EntitySpec
from import_pipeline.db.sql import ident, target


def written_by(
    conn: connection, spec: EntitySpec, tenant: str, partition_key: str, keys: Iterable[list[str]]
) -> list[str]:
    """Of the batch's staged keys (given part by part, in key order), those whose stored
    row this batch wrote last: inserted, or updated (a row whose version alone moved
    included); probed through the primary key, so it costs the batch's size, not the
    table's."""
    statement = sql.SQL(
        "SELECT {key} FROM {table} WHERE {tenant} = %s AND {key} = ANY(%s) AND {batch} = %s"
        " ORDER BY {key}"
    ).format(key=ident(spec.key), table=target(spec), tenant=ident(TENANT), batch=ident(BATCH))
    found: list[str] = []
    with conn, conn.cursor() as cur:
        for part in keys:
            cur.execute(statement, (tenant, part, partition_key))
            found += [row[0] for row in cur.fetchall()]
    return found


SEARCH_FIELDS = ("sku", "name", "category", "price", "currency", "quality_score", "updated_at")


def products(conn: connection, tenant: str, keys: list[str]) -> list[dict]:
    """The stored products `keys` name, as plain values (price as text, to keep its digits)."""
    columns = sql.SQL(", ").join(ident(name) for name in (PRODUCTS.key, *SEARCH_FIELDS))
    statement = sql.SQL(
        "SELECT {columns}, attributes FROM {table} WHERE {tenant} = %s AND {key} = ANY(%s)"
        " ORDER BY {key}"
    ).format(columns=columns, table=target(PRODUCTS), tenant=ident(TENANT), key=ident(PRODUCTS.key))
    with conn, conn.cursor() as cur:
        cur.execute(statement, (tenant, keys))
        names = [column.name for column in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
