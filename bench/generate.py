"""Deterministic canonical drops: customers, products, orders and line items with
consistent foreign keys, in the canonical column names of `core/entities.py`.

Why it looks like this:
- Sizes are given in orders; customers ~ orders / 5, products 2,000, line items 1..5 per
  order (mean 3), so 100k orders ~ 422k rows, the "~420k rows" of issue 7.
- Rows are generated and written in blocks of orders (vectorised numpy + polars), so a
  1M-order drop never holds more than one block in memory.
- The plain CSV is always written first; `csv.gz` and Parquet are derived from it by
  streaming (gzip copy, `scan_csv(...).sink_parquet`), so every format holds the same rows
  and the baselines can COPY that CSV. Parquet columns are text, like most exports.
- Every block has its own RNG stream derived from (seed, entity, block), and dirty/changed
  decisions draw from separate streams: the clean rows of a dirty or changed drop are
  byte-identical to the plain drop's.
"""

import gzip
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl

from import_pipeline.core.entities import ENTITIES, ORDER_STATUSES

ENTITY_ORDER = tuple(ENTITIES)
"""customers, products, orders, line_items: parents before children."""

FORMATS = ("csv", "csv.gz", "parquet")
PRODUCTS = 2_000
BLOCK_ORDERS = 50_000
BASE_EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z
YEAR_S = 365 * 86_400
DAY_S = 86_400
CHANGED_SHARE = 0.10
INVALID_SHARE = 0.01
DUPLICATE_SHARE = 0.01
EXACT_DUPLICATE_SHARE = 0.005
STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled", "refunded")
FIRST_NAMES = np.array(["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken"])
LAST_NAMES = np.array(["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen"])
COUNTRIES = np.array(["United Kingdom", "France", "Germany", "United States", "Japan", "Brazil"])
CATEGORIES = np.array(["tea", "coffee", "homeware", "books", "garden", "toys"])

assert set(STATUSES) <= set(ORDER_STATUSES)


@dataclass(frozen=True)
class DropSpec:
    """What to generate; equal specs give byte-identical drops."""

    orders: int
    format: str = "csv"
    dirty: bool = False
    changed: bool = False
    seed: int = 7
    lines_per_order: int = 3
    tag: str = "bench"

    @property
    def customers(self) -> int:
        return max(1, self.orders // 5)

    @property
    def products(self) -> int:
        return PRODUCTS

    def file_name(self, entity: str, ext: str | None = None) -> str:
        return f"{entity}_{self.tag}.{ext or self.format}"


@dataclass
class Drop:
    """A generated drop: its files, the plain CSV of each, and the counts to expect."""

    root: Path
    spec: DropSpec
    files: dict[str, Path]
    csv_files: dict[str, Path]
    rows: dict[str, int] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def generate(root: Path, spec: DropSpec) -> Drop:
    """Write the drop under `root` (reusing it when a manifest of the same spec is there)."""
    manifest = root / "manifest.json"
    if manifest.exists():
        cached = json.loads(manifest.read_text())
        if cached["spec"] == asdict(spec):
            return _drop_of(root, spec, cached)
    root.mkdir(parents=True, exist_ok=True)
    csv_dir = root / "csv"
    csv_dir.mkdir(exist_ok=True)
    writer = _Writer(csv_dir, spec)
    try:
        invalid_customers = _customers(writer, spec)
        prices = _products(writer, spec)
        _orders_and_lines(writer, spec, invalid_customers, prices)
    finally:
        writer.close()
    drop = Drop(
        root=root,
        spec=spec,
        files={e: root / spec.file_name(e) for e in ENTITY_ORDER},
        csv_files={e: csv_dir / spec.file_name(e, "csv") for e in ENTITY_ORDER},
        rows=writer.rows,
        expected=writer.expected,
        held=writer.held,
    )
    for entity in ENTITY_ORDER:
        _convert(drop.csv_files[entity], drop.files[entity], spec.format)
    manifest.write_text(
        json.dumps(
            {"spec": asdict(spec), "rows": drop.rows, "expected": drop.expected, "held": drop.held},
            indent=2,
        )
    )
    return drop


def _drop_of(root: Path, spec: DropSpec, cached: dict) -> Drop:
    return Drop(
        root=root,
        spec=spec,
        files={e: root / spec.file_name(e) for e in ENTITY_ORDER},
        csv_files={e: root / "csv" / spec.file_name(e, "csv") for e in ENTITY_ORDER},
        rows=cached["rows"],
        expected=cached["expected"],
        held=cached["held"],
    )


class _Writer:
    """Appends blocks to one plain CSV per entity (header once) and keeps the counts."""

    def __init__(self, csv_dir: Path, spec: DropSpec) -> None:
        self.handles: dict[str, BinaryIO] = {
            e: (csv_dir / spec.file_name(e, "csv")).open("wb") for e in ENTITY_ORDER
        }
        self.rows = dict.fromkeys(ENTITY_ORDER, 0)
        self.expected = dict.fromkeys(ENTITY_ORDER, 0)
        self.held = dict.fromkeys(ENTITY_ORDER, 0)

    def write(self, entity: str, frame: pl.DataFrame, expected: int, held: int = 0) -> None:
        header = self.rows[entity] == 0
        frame.write_csv(self.handles[entity], include_header=header)
        self.rows[entity] += frame.height
        self.expected[entity] += expected
        self.held[entity] += held

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()


def _rng(spec: DropSpec, *stream: int) -> np.random.Generator:
    return np.random.default_rng([spec.seed, *stream])


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    return prefix + pl.Series(numbers).cast(pl.String).str.zfill(width)


def _timestamps(seconds: np.ndarray) -> pl.Series:
    return pl.from_epoch(pl.Series(seconds), time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(cents: np.ndarray) -> pl.Series:
    series = pl.Series(cents)
    return (
        (series // 100).cast(pl.String) + "." + (series % 100).cast(pl.String).str.zfill(2)
    ).alias("money")


def _customers(writer: _Writer, spec: DropSpec) -> np.ndarray:
    """Write customers; return which are invalid (dirty mode), for their orders' sake."""
    invalid_all = np.zeros(spec.customers, dtype=bool)
    block = BLOCK_ORDERS // 5
    for index, start in enumerate(range(0, spec.customers, block)):
        stop = min(spec.customers, start + block)
        rng = _rng(spec, 1, index)
        n = stop - start
        numbers = np.arange(start, stop)
        created = BASE_EPOCH + rng.integers(0, YEAR_S, n)
        updated = created + rng.integers(0, 30 * DAY_S, n)
        first = FIRST_NAMES[rng.integers(0, len(FIRST_NAMES), n)]
        last = LAST_NAMES[rng.integers(0, len(LAST_NAMES), n)]
        frame = pl.DataFrame(
            {
                "customer_id": _ids("C", numbers, 8),
                "email": _ids("user", numbers, 8) + "@example.com",
                "first_name": first,
                "last_name": last,
                "phone": _ids("+44 20 ", numbers % 10_000_000, 7),
                "country": COUNTRIES[rng.integers(0, len(COUNTRIES), n)],
                "created_at": _timestamps(created),
                "updated_at": _timestamps(updated),
            }
        )
        invalid = np.zeros(n, dtype=bool)
        if spec.dirty:
            dirt = _rng(spec, 101, index)
            invalid = dirt.random(n) < INVALID_SHARE
            frame = frame.with_columns(_spoil("email", invalid, "not-an-email"))
            frame = _with_duplicates(frame, dirt, ~invalid, updated)
        invalid_all[start:stop] = invalid
        writer.write("customers", frame, int((~invalid).sum()))
    return invalid_all


def _products(writer: _Writer, spec: DropSpec) -> np.ndarray:
    """Write the (always clean) products; return their prices in cents."""
    rng = _rng(spec, 2, 0)
    n = spec.products
    numbers = np.arange(n)
    prices = rng.integers(100, 10_000, n)
    updated = BASE_EPOCH + rng.integers(0, YEAR_S, n)
    frame = pl.DataFrame(
        {
            "product_id": _ids("P", numbers, 6),
            "sku": _ids("SKU-", numbers, 6),
            "name": _ids("Product ", numbers, 6),
            "category": CATEGORIES[rng.integers(0, len(CATEGORIES), n)],
            "price": _money(prices),
            "currency": np.full(n, "EUR"),
            "updated_at": _timestamps(updated),
        }
    )
    writer.write("products", frame, n)
    return prices


def _orders_and_lines(
    writer: _Writer, spec: DropSpec, invalid_customers: np.ndarray, prices: np.ndarray
) -> None:
    """Write orders and their line items block by block; totals are the sums of lines."""
    for index, start in enumerate(range(0, spec.orders, BLOCK_ORDERS)):
        stop = min(spec.orders, start + BLOCK_ORDERS)
        rng = _rng(spec, 3, index)
        n = stop - start
        customer = rng.integers(0, spec.customers, n)
        ordered = BASE_EPOCH + rng.integers(0, YEAR_S, n)
        updated = ordered + rng.integers(0, 7 * DAY_S, n)
        status = rng.integers(0, len(STATUSES), n)
        lines = rng.integers(1, 2 * spec.lines_per_order, n)
        count = int(lines.sum())
        owner = np.repeat(np.arange(n), lines)
        line_no = np.arange(count) - np.repeat(np.cumsum(lines) - lines, lines) + 1
        product = rng.integers(0, spec.products, count)
        quantity = rng.integers(1, 6, count)
        line_total = quantity * prices[product]
        totals = np.bincount(owner, weights=line_total, minlength=n).astype(np.int64)

        order_updated = updated.copy()
        if spec.changed:
            picked = _rng(spec, 203, index).random(n) < CHANGED_SHARE
            status = np.where(picked, (status + 1) % len(STATUSES), status)
            order_updated = np.where(picked, updated + DAY_S, updated)

        order_ids = _ids("O", np.arange(start, stop), 9)
        orders = pl.DataFrame(
            {
                "order_id": order_ids,
                "customer_id": _ids("C", customer, 8),
                "status": np.array(STATUSES)[status],
                "currency": np.full(n, "EUR"),
                "total": _money(totals),
                "ordered_at": _timestamps(ordered),
                "updated_at": _timestamps(order_updated),
            }
        )
        items = pl.DataFrame(
            {
                "line_item_id": order_ids.gather(owner) + "-" + pl.Series(line_no).cast(pl.String),
                "order_id": order_ids.gather(owner),
                "product_id": _ids("P", product, 6),
                "quantity": pl.Series(quantity).cast(pl.String),
                "unit_price": _money(prices[product]),
                "line_total": _money(line_total),
                "updated_at": _timestamps(updated[owner]),
            }
        )
        order_bad = np.zeros(n, dtype=bool)
        item_bad = np.zeros(count, dtype=bool)
        if spec.dirty:
            dirt = _rng(spec, 103, index)
            order_bad = dirt.random(n) < INVALID_SHARE
            item_bad = dirt.random(count) < INVALID_SHARE
            orders = orders.with_columns(_spoil("status", order_bad, "lost-in-post"))
            items = items.with_columns(_spoil("quantity", item_bad, "0"))
            orders = _with_duplicates(orders, dirt, ~order_bad, order_updated)
            items = _with_duplicates(items, dirt, ~item_bad, updated[owner])
        order_loaded = ~order_bad & ~invalid_customers[customer]
        order_held = ~order_bad & invalid_customers[customer]
        item_loaded = ~item_bad & order_loaded[owner]
        writer.write("orders", orders, int(order_loaded.sum()), int(order_held.sum()))
        writer.write(
            "line_items",
            items,
            int(item_loaded.sum()),
            int((~item_bad).sum()) - int(item_loaded.sum()),
        )


def _spoil(column: str, mask: np.ndarray, value: str) -> pl.Expr:
    return pl.when(pl.Series(mask)).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)


def _with_duplicates(
    frame: pl.DataFrame, rng: np.random.Generator, valid: np.ndarray, updated: np.ndarray
) -> pl.DataFrame:
    """Append older versions of some valid rows after them (out of order: the newer one
    must win) and a few exact repeats; none of them changes what should be loaded."""
    older = valid & (rng.random(frame.height) < DUPLICATE_SHARE)
    repeat = valid & (rng.random(frame.height) < EXACT_DUPLICATE_SHARE)
    stale = frame.filter(pl.Series(older)).with_columns(
        _timestamps(updated[older] - DAY_S).alias("updated_at")
    )
    return pl.concat([frame, stale, frame.filter(pl.Series(repeat))])


def _convert(csv_path: Path, target: Path, file_format: str) -> None:
    """Derive the landed file from the plain CSV by streaming (bounded memory). The gzip
    header's time is 0, not now, so that equal specs still give byte-identical files."""
    if target.exists():
        target.unlink()
    if file_format == "csv":
        target.hardlink_to(csv_path)
    elif file_format == "csv.gz":
        with (
            csv_path.open("rb") as source,
            target.open("wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as sink,
        ):
            shutil.copyfileobj(source, sink, 1 << 20)
    elif file_format == "parquet":
        pl.scan_csv(csv_path, infer_schema=False).sink_parquet(target)
    else:
        raise ValueError(f"unknown format {file_format!r}; use one of {FORMATS}")
