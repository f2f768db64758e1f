"""The entities the pipeline loads (`ENTITIES`): their fields, keys, parents, rules,
version, checks, description and template example.

Everything downstream (validation, staging, the upsert SQL, the migrations' shape) reads
these specs, so adding a field means changing it here and in one migration.
"""

from dataclasses import dataclass, field
from enum import StrEnum

import polars as pl


class Kind(StrEnum):
    """How a field's text is cast; each maps to one Postgres type."""

    TEXT = "text"
    INT = "bigint"
    DECIMAL = "numeric(18,4)"
    TIMESTAMP = "timestamptz"


class Format(StrEnum):
    """Text formats a field may be required to have."""

    EMAIL = "email"
    CURRENCY = "currency"
    UUID = "uuid"
    GTIN = "gtin"
    """A barcode: GTIN-8, -12 (UPC-A), -13 (EAN) or -14 digits with a valid check digit."""


@dataclass(frozen=True)
class Field:
    """One column of an entity as it is stored in `commerce.<entity>`.

    A `derived` field is computed by the pipeline (never read from a file or mapped by a
    profile), e.g. a product's quality score.
    """

    name: str
    kind: Kind = Kind.TEXT
    required: bool = False
    format: Format | None = None
    max_length: int | None = None
    minimum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[str, ...] = ()
    lowercase: bool = False
    derived: bool = False


class Check(StrEnum):
    """An asset check a load of an entity is judged by (its Dagster check name)."""

    REJECT_RATE = "reject_rate"
    HELD_ROWS = "held_rows"
    REFERENTIAL_INTEGRITY = "referential_integrity"
    ORDER_TOTALS = "order_totals_match_lines"


class VersionOrder(StrEnum):
    """What a version field holds, and so how two versions of a row compare."""

    TIMESTAMP = "timestamp"
    """A point in time; a row without one carries its batch's landing time."""

    SEQUENCE = "sequence"
    """An integer the source increments with every change; every row must have one."""


@dataclass(frozen=True)
class Version:
    """The field that orders versions of an entity's rows: newer wins, in a batch and
    across batches."""

    field: str = "updated_at"
    order: VersionOrder = VersionOrder.TIMESTAMP

    def as_number(self) -> pl.Expr:
        """The version as an integer that orders like it (a timestamp in microseconds since
        the epoch): the polars twin of `db.sql.version_number`."""
        column = pl.col(self.field)
        if self.order is VersionOrder.TIMESTAMP:
            return column.dt.epoch("us")
        return column


@dataclass(frozen=True)
class EntitySpec:
    """An entity: its table, natural key, fields and the parents it references."""

    name: str
    key: str
    fields: tuple[Field, ...]
    parents: tuple["Parent", ...] = ()
    file_prefixes: tuple[str, ...] = ()
    extra_checks: tuple[Check, ...] = ()
    version: Version = Version()
    description: str = ""
    example: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def checks(self) -> tuple[Check, ...]:
        """The checks that judge a load of this entity: its reject rate always, held rows
        and referential integrity when it has parents, then its own."""
        by_parents = (Check.HELD_ROWS, Check.REFERENTIAL_INTEGRITY) if self.parents else ()
        return (Check.REJECT_RATE, *by_parents, *self.extra_checks)

    @property
    def table(self) -> str:
        return f"commerce.{self.name}"

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def required_fields(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    def get(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


@dataclass(frozen=True)
class Parent:
    """A foreign key: `field` of this entity references the key of `spec`."""

    field: str
    spec: "EntitySpec"

    @property
    def entity(self) -> str:
        return self.spec.name


ORDER_STATUSES = (
    "pending",
    "paid",
    "partially_paid",
    "authorized",
    "processing",
    "shipped",
    "fulfilled",
    "partially_fulfilled",
    "delivered",
    "completed",
    "cancelled",
    "refunded",
    "partially_refunded",
    "voided",
    "returned",
)

_UPDATED_AT = Field(Version().field, Kind.TIMESTAMP)

CUSTOMERS = EntitySpec(
    name="customers",
    key="customer_id",
    fields=(
        Field("customer_id", required=True, max_length=64),
        Field("email", format=Format.EMAIL, max_length=254, lowercase=True),
        Field("first_name", max_length=200),
        Field("last_name", max_length=200),
        Field("phone", max_length=64),
        Field("country", max_length=64),
        Field("created_at", Kind.TIMESTAMP),
        _UPDATED_AT,
    ),
    file_prefixes=("customers",),
    description=(
        "Upserts the batch's customers into commerce.customers (newer `updated_at` "
        "wins, unchanged rows are left alone). Emails are trimmed and lower-cased."
    ),
    example={
        "customer_id": "C-1001",
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "+44 20 7946 0000",
        "country": "GB",
        "created_at": "2024-05-01T09:00:00Z",
        "updated_at": "2024-05-01T09:00:00Z",
    },
)

PRODUCTS = EntitySpec(
    name="products",
    key="product_id",
    fields=(
        Field("product_id", required=True, max_length=128),
        Field("sku", max_length=128),
        Field("barcode", format=Format.GTIN),
        Field("brand", max_length=200),
        Field("name", required=True, max_length=500),
        Field("category", max_length=200),
        Field("price", Kind.DECIMAL, minimum=0),
        Field("currency", format=Format.CURRENCY),
        Field("stock", Kind.INT),
        Field("quality_score", Kind.INT, derived=True),
        _UPDATED_AT,
    ),
    file_prefixes=("products",),
    description=(
        "Upserts the batch's products into commerce.products. A SKU already used by "
        "another product of the tenant is refused by the database and reported as a "
        "reject. Metadata also summarises the batch's quality scores (mean, min, count "
        "below 50)."
    ),
    example={
        "product_id": "P-2001",
        "sku": "TEA-EARL-100G",
        "name": "Earl Grey tea, 100 g",
        "category": "tea",
        "price": "4.50",
        "currency": "GBP",
        "updated_at": "2024-05-01T09:00:00Z",
    },
)

ORDERS = EntitySpec(
    name="orders",
    key="order_id",
    fields=(
        Field("order_id", required=True, max_length=64),
        Field("customer_id", max_length=64),
        Field("status", required=True, choices=ORDER_STATUSES, lowercase=True),
        Field("currency", format=Format.CURRENCY),
        Field("total", Kind.DECIMAL, minimum=0),
        Field("ordered_at", Kind.TIMESTAMP, required=True),
        _UPDATED_AT,
    ),
    parents=(Parent("customer_id", CUSTOMERS),),
    file_prefixes=("orders",),
    description=(
        "Upserts the batch's orders into commerce.orders. An order whose customer has "
        "not arrived yet is held in ingest.held_rows and loads with the run that brings "
        "it."
    ),
    example={
        "order_id": "O-3001",
        "customer_id": "C-1001",
        "status": "paid",
        "currency": "GBP",
        "total": "9.00",
        "ordered_at": "2024-05-02T10:30:00Z",
        "updated_at": "2024-05-02T10:30:00Z",
    },
)

LINE_ITEMS = EntitySpec(
    name="line_items",
    key="line_item_id",
    fields=(
        Field("line_item_id", required=True, max_length=128),
        Field("order_id", required=True, max_length=64),
        Field("product_id", required=True, max_length=128),
        Field("quantity", Kind.INT, required=True, minimum=0, exclusive_minimum=True),
        Field("unit_price", Kind.DECIMAL, required=True, minimum=0),
        Field("line_total", Kind.DECIMAL),
        _UPDATED_AT,
    ),
    parents=(Parent("order_id", ORDERS), Parent("product_id", PRODUCTS)),
    file_prefixes=("line_items", "order_items"),
    extra_checks=(Check.ORDER_TOTALS,),
    description=(
        "Upserts the batch's line items into commerce.line_items. A line whose order or "
        "product has not arrived yet is held until it does."
    ),
    example={
        "line_item_id": "O-3001-1",
        "order_id": "O-3001",
        "product_id": "P-2001",
        "quantity": "2",
        "unit_price": "4.50",
        "line_total": "9.00",
        "updated_at": "2024-05-02T10:30:00Z",
    },
)

ENTITIES: dict[str, EntitySpec] = {
    spec.name: spec for spec in (CUSTOMERS, PRODUCTS, ORDERS, LINE_ITEMS)
}
"""All entities in foreign-key order: parents before children."""


def entity_for_file(file_name: str) -> EntitySpec | None:
    """The entity a canonically named file holds (`orders_2024-05.csv.gz` -> orders); a
    folder batch's member is named by its own name, not its sub-folder's."""
    lowered = file_name.rsplit("/", 1)[-1].lower()
    for spec in ENTITIES.values():
        if any(lowered.startswith(prefix) for prefix in spec.file_prefixes):
            return spec
    return None


def load_rank(file_name: str) -> int:
    """Where a file's entity stands in foreign-key order (customers 0 .. line items 3); 0
    when the name does not say (folder batches and fan-out files load every entity)."""
    spec = entity_for_file(file_name)
    return list(ENTITIES).index(spec.name) if spec else 0
