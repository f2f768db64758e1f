"""Small builders of SQL fragments from our own entity specs.

Identifiers come only from `EntitySpec`s (never from files) and are always quoted;
values never appear here: statements take them as `%(name)s` parameters or COPY.
"""

from psycopg2 import sql

from import_pipeline.core.columns import ATTRIBUTES, BATCH, FINGERPRINT, ROW, TENANT
from import_pipeline.core.entities import EntitySpec, Parent, VersionOrder


def ident(*names: str) -> sql.Composable:
    return sql.Identifier(*names)


def target(spec: EntitySpec) -> sql.Composable:
    """`"commerce"."<entity>"`."""
    return sql.Identifier("commerce", spec.name)


def stage(spec: EntitySpec) -> sql.Composable:
    """The session's temp table a chunk is copied into before the upsert."""
    return sql.Identifier("pg_temp", f"stage_{spec.name}")


def stage_columns(spec: EntitySpec) -> list[str]:
    """Columns of the stage table, in the order chunks are copied."""
    return [*spec.field_names, ATTRIBUTES, FINGERPRINT, BATCH, ROW]


def target_columns(spec: EntitySpec) -> list[str]:
    """Columns a chunk is copied straight into the target with (`_loaded_at` has a default)."""
    return [TENANT, *spec.field_names, ATTRIBUTES, FINGERPRINT, BATCH]


def probe(spec: EntitySpec) -> sql.Composable:
    """The session's temp table of a chunk's keys, versions and fingerprints."""
    return sql.Identifier("pg_temp", f"probe_{spec.name}")


def probe_columns(spec: EntitySpec) -> list[str]:
    return [spec.key, spec.version.field, FINGERPRINT]


def create_probe(spec: EntitySpec) -> sql.Composable:
    key, version = spec.get(spec.key), spec.get(spec.version.field)
    return sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} ({} {}, {} {}, {} bigint)").format(
        sql.Identifier(f"probe_{spec.name}"),
        ident(key.name),
        sql.SQL(key.kind.value),
        ident(version.name),
        sql.SQL(version.kind.value),
        ident(FINGERPRINT),
    )


def key_range_stored(spec: EntitySpec) -> sql.Composable:
    """True when the target holds a row of the tenant with a key in [lo, hi]: one probe of
    the primary key index."""
    return sql.SQL(
        "SELECT EXISTS (SELECT 1 FROM {table}"
        " WHERE tenant = %(tenant)s AND {key} BETWEEN %(lo)s AND %(hi)s)"
    ).format(table=target(spec), key=ident(spec.key))


WEIGHT_MASK = (1 << 30) - 1
"""The low bits of a row's fingerprint that, plus one, weigh its version in a key range's
summary (plus one: no row's version may weigh nothing)."""


def range_summary(spec: EntitySpec) -> sql.Composable:
    """At most %(rows)s + 1 stored rows of the tenant with a key in [lo, hi] (any of them:
    more than %(rows)s is a mismatch however they are chosen, and the bound keeps a chunk
    whose keys are spread over a big table from reading all the rows between them; no
    ORDER BY, which on a freshly loaded table was planned as a sort of the whole range):
    how many, how many have a fingerprint, the sum of their fingerprints, and the sum of
    their versions (in microseconds) each weighed by its fingerprint's bits under
    %(mask)s plus one; exact (numeric), to compare with `Chunk.summary`."""
    return sql.SQL(
        "SELECT count(*), count({fp}), coalesce(sum({fp}::numeric), 0),"
        " coalesce(sum((({fp} & %(mask)s) + 1)::numeric * {number}), 0)"
        " FROM (SELECT {fp}, {version} FROM {table}"
        " WHERE tenant = %(tenant)s AND {key} BETWEEN %(lo)s AND %(hi)s"
        " LIMIT %(rows)s + 1) AS stored"
    ).format(
        fp=ident(FINGERPRINT),
        version=ident(spec.version.field),
        number=version_number(spec, ident(spec.version.field)),
        table=target(spec),
        key=ident(spec.key),
    )


def version_number(spec: EntitySpec, version: sql.Composable) -> sql.Composable:
    """`version` (a value of the spec's version field) as a number that orders like it (a
    timestamp in microseconds since the epoch, exact): the SQL twin of `Version.as_number`,
    and what `ingest.held_rows.version` stores."""
    if spec.version.order is VersionOrder.TIMESTAMP:
        return sql.SQL("(extract(epoch FROM {}) * 1000000)").format(version)
    return sql.SQL("({}::numeric)").format(version)


def column_list(names: list[str], prefix: str | None = None) -> sql.Composable:
    if prefix is None:
        return sql.SQL(", ").join(sql.Identifier(n) for n in names)
    return sql.SQL(", ").join(sql.Identifier(prefix, n) for n in names)


def create_stage(spec: EntitySpec) -> sql.Composable:
    """A temp table shaped like a chunk; it lives as long as the connection."""
    columns = [sql.SQL("{} {}").format(ident(f.name), sql.SQL(f.kind.value)) for f in spec.fields]
    columns += [
        sql.SQL("{} jsonb").format(ident(ATTRIBUTES)),
        sql.SQL("{} bigint").format(ident(FINGERPRINT)),
        sql.SQL("{} text").format(ident(BATCH)),
        sql.SQL("{} bigint").format(ident(ROW)),
    ]
    return sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} ({})").format(
        sql.Identifier(f"stage_{spec.name}"), sql.SQL(", ").join(columns)
    )


def parent_exists(
    parent: Parent, spec_of_parent: EntitySpec, value: sql.Composable
) -> sql.Composable:
    """True when `value` is null (no reference) or the parent row exists in this tenant."""
    return sql.SQL(
        "({value} IS NULL OR EXISTS (SELECT 1 FROM {table} p"
        " WHERE p.tenant = %(tenant)s AND p.{key} = {value}))"
    ).format(value=value, table=target(spec_of_parent), key=ident(spec_of_parent.key))
