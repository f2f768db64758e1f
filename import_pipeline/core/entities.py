"""The four entities the pipeline loads: their fields, keys, parents and rules.

Everything downstream (validation, staging, the upsert SQL, the migrations' shape) reads
these specs, so adding a field means changing it here and in one migration.
"""

from dataclasses import dataclass
from enum import StrEnum


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


@dataclass(frozen=True)
class Parent:
    """A foreign key: `field` of this entity references the key of `entity`."""

    field: str
    entity: str


@dataclass(frozen=True)
class EntitySpec:
    """An entity: its table, natural key, fields and the parents it references."""

    name: str
    key: str
    fields: tuple[Field, ...]
    parents: tuple[Parent, ...] = ()
    file_prefixes: tuple[str, ...] = ()

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


VERSION_FIELD = "updated_at"
"""The field that orders versions of a row: newer wins, in a batch and across batches."""

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

_UPDATED_AT = Field(VERSION_FIELD, Kind.TIMESTAMP)

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
    parents=(Parent("customer_id", "customers"),),
    file_prefixes=("orders",),
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
    parents=(Parent("order_id", "orders"), Parent("product_id", "products")),
    file_prefixes=("line_items", "order_items"),
)

ENTITIES: dict[str, EntitySpec] = {
    spec.name: spec for spec in (CUSTOMERS, PRODUCTS, ORDERS, LINE_ITEMS)
}
"""All entities in foreign-key order: parents before children."""


def entity_for_file(file_name: str) -> EntitySpec | None:
    """The entity a canonically named file holds (`orders_2024-05.csv.gz` -> orders)."""
    lowered = file_name.lower()
    for spec in ENTITIES.values():
        if any(lowered.startswith(prefix) for prefix in spec.file_prefixes):
            return spec
    return None


def load_rank(file_name: str) -> int:
    """Where a file's entity stands in foreign-key order (customers 0 .. line items 3); 0
    when the name does not say (folder batches and fan-out files load every entity)."""
    spec = entity_for_file(file_name)
    return list(ENTITIES).index(spec.name) if spec else 0
