"""An entity is its spec and its table: a fifth entity, and one versioned by a sequence
number, load through the same code as the four commerce entities (real Postgres)."""

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from psycopg2.extensions import connection

from import_pipeline.core.columns import ATTRIBUTES, ROW
from import_pipeline.core.entities import (
    PRODUCTS,
    EntitySpec,
    Field,
    Kind,
    Parent,
    Version,
    VersionOrder,
)
from import_pipeline.core.report import LoadCounts
from import_pipeline.core.rules import TIMESTAMP
from import_pipeline.db import ledger
from import_pipeline.db.connect import connected
from import_pipeline.defs.assets.entities import asset_spec
from import_pipeline.defs.checks import check_specs
from import_pipeline.files import layout
from import_pipeline.files.local import LocalStore
from import_pipeline.load.entity import LoadOptions, load_entity

pytestmark = pytest.mark.postgres

SUPPLIERS = EntitySpec(
    name="suppliers",
    key="supplier_id",
    fields=(
        Field("supplier_id", required=True, max_length=64),
        Field("name", max_length=200),
        Field("updated_at", Kind.TIMESTAMP),
    ),
    file_prefixes=("suppliers",),
    description="Upserts the batch's suppliers into commerce.suppliers.",
    example={"supplier_id": "S-1", "name": "Leaf & Co", "updated_at": "2024-05-01T09:00:00Z"},
)

SUPPLIED_PRODUCTS = replace(
    PRODUCTS,
    fields=(*PRODUCTS.fields, Field("supplier_id", max_length=64)),
    parents=(Parent("supplier_id", SUPPLIERS),),
)
"""Products as they would be once they reference their supplier."""

SUPPLIERS_MIGRATION = """
    CREATE TABLE commerce.suppliers (
        tenant       text        NOT NULL,
        supplier_id  text        NOT NULL,
        name         text,
        attributes   jsonb,
        updated_at   timestamptz NOT NULL,
        _fingerprint bigint,
        _batch       text        NOT NULL,
        _loaded_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, supplier_id)
    );
    ALTER TABLE commerce.products ADD COLUMN supplier_id text,
        ADD FOREIGN KEY (tenant, supplier_id) REFERENCES commerce.suppliers (tenant, supplier_id);
"""
"""The one migration a fifth entity needs."""

REVISED_SUPPLIERS = replace(
    SUPPLIERS,
    fields=(*SUPPLIERS.fields[:2], Field("revision", Kind.INT, required=True)),
    version=Version("revision", VersionOrder.SEQUENCE),
)
"""Suppliers whose source numbers every change instead of timing it."""

REVISIONS_MIGRATION = """
    CREATE TABLE commerce.suppliers (
        tenant       text   NOT NULL,
        supplier_id  text   NOT NULL,
        name         text,
        attributes   jsonb,
        revision     bigint NOT NULL,
        _fingerprint bigint,
        _batch       text   NOT NULL,
        _loaded_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, supplier_id)
    );
"""

OPTIONS = LoadOptions(chunk_rows=2, connections=2, held_max_age_seconds=3600, max_reject_rate=0.1)
LANDED = datetime(2024, 6, 1, tzinfo=UTC)


def migrated(conn: connection, statement: str) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(statement)


def staged(store_root: Path, spec: EntitySpec, batch: str, rows: list[dict]) -> None:
    """Write `rows` as staging leaves an entity's slice of a batch: typed, key-ordered,
    numbered, with their unmapped columns (none here); and register the batch."""
    types = {Kind.TEXT: pl.String, Kind.INT: pl.Int64, Kind.TIMESTAMP: pl.String}
    frame = pl.DataFrame(
        [{f.name: row.get(f.name) for f in spec.fields} for row in rows],
        schema={f.name: types.get(f.kind, pl.String) for f in spec.fields},
    )
    timestamps = [f.name for f in spec.fields if f.kind is Kind.TIMESTAMP]
    frame = frame.with_columns(pl.col(n).str.to_datetime(time_zone="UTC") for n in timestamps)
    frame = frame.with_columns(pl.col(n).cast(TIMESTAMP) for n in timestamps)
    if PRODUCTS.get("price") in spec.fields:
        frame = frame.with_columns(pl.col("price").cast(pl.Decimal(18, 4)))
    frame = frame.with_row_index(ROW, offset=1).with_columns(
        pl.col(ROW).cast(pl.Int64), pl.lit(None, pl.String).alias(ATTRIBUTES)
    )
    folder = store_root / layout.staged_folder(batch, spec.name)
    folder.mkdir(parents=True, exist_ok=True)
    frame.sort(spec.key).write_parquet(folder / "part-0.parquet")


def loaded(url: str, root: Path, spec: EntitySpec, batch: str, entities: list[str]) -> LoadCounts:
    with connected(url) as conn:
        ledger.register(
            conn, [ledger.Batch(batch, f"file:///{batch}", "default", "canonical", "v1", LANDED)]
        )

    def connect(application_name: str = "test"):
        return connected(url, application_name)

    done = load_entity(
        connect,
        LocalStore(root),
        spec,
        batch,
        "run-1",
        OPTIONS,
        entities,
        {c.value for c in spec.checks},
        lambda: False,
        lambda message: None,
    )
    return done.counts


def stored(conn: connection, statement: str) -> list[tuple]:
    with conn, conn.cursor() as cur:
        cur.execute(statement)
        return cur.fetchall()


def test_a_fifth_entity_is_its_spec_and_one_migration(conn, database_url, tmp_path):
    """Suppliers, referenced by products: products wait for their supplier as held rows
    and load with it, checked, described and templated like any entity."""
    migrated(conn, SUPPLIERS_MIGRATION)
    entities = [SUPPLIERS.name, SUPPLIED_PRODUCTS.name]
    product = {"product_id": "P1", "name": "Earl Grey", "supplier_id": "S1"}
    staged(tmp_path, SUPPLIED_PRODUCTS, "b1", [{**product, "updated_at": "2024-05-01"}])
    first = loaded(database_url, tmp_path, SUPPLIED_PRODUCTS, "b1", entities)
    assert (first.inserted, first.held) == (0, 1)

    supplier = {"supplier_id": "S1", "name": "Leaf & Co", "updated_at": "2024-05-01"}
    staged(tmp_path, SUPPLIERS, "b2", [supplier, {**supplier, "supplier_id": "S2"}])
    assert loaded(database_url, tmp_path, SUPPLIERS, "b2", entities).inserted == 2
    staged(
        tmp_path,
        SUPPLIED_PRODUCTS,
        "b3",
        [{**product, "product_id": "P2", "updated_at": "2024-05-02"}],
    )
    later = loaded(database_url, tmp_path, SUPPLIED_PRODUCTS, "b3", entities)

    assert (later.resolved, later.inserted) == (1, 1)
    assert stored(conn, "SELECT product_id, supplier_id FROM commerce.products ORDER BY 1") == [
        ("P1", "S1"),
        ("P2", "S1"),
    ]
    assert ledger.step_counts(conn, "b3", "products")["resolved"] == 1
    assert [c.name for c in check_specs(SUPPLIED_PRODUCTS)] == [
        "reject_rate",
        "held_rows",
        "referential_integrity",
    ]
    assert asset_spec(SUPPLIERS).description == SUPPLIERS.description


def test_an_entity_versioned_by_a_sequence_number_keeps_the_highest(conn, database_url, tmp_path):
    """Newer wins by revision: a lower revision arriving later is stale, the same rows
    again are unchanged, a higher revision updates."""
    migrated(conn, REVISIONS_MIGRATION)
    entities = [REVISED_SUPPLIERS.name]

    def load(batch: str, revisions: dict[str, tuple[int, str]]) -> LoadCounts:
        rows = [{"supplier_id": k, "revision": r, "name": n} for k, (r, n) in revisions.items()]
        staged(tmp_path, REVISED_SUPPLIERS, batch, rows)
        return loaded(database_url, tmp_path, REVISED_SUPPLIERS, batch, entities)

    first = {"S1": (5, "Leaf"), "S2": (5, "Bean"), "S3": (1, "Root")}
    assert load("b1", first).inserted == 3
    assert load("b2", first).unchanged == 3
    older = load("b3", {"S1": (4, "Leaf (old)"), "S2": (6, "Bean & Co"), "S3": (2, "Root")})
    assert (older.stale, older.updated, older.unchanged) == (1, 1, 1)
    assert stored(
        conn, "SELECT supplier_id, revision, name FROM commerce.suppliers ORDER BY 1"
    ) == [
        ("S1", 5, "Leaf"),
        ("S2", 6, "Bean & Co"),
        ("S3", 2, "Root"),
    ]
