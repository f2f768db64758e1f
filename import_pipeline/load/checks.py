"""What an entity's checks judge, computed once its load is done: plain figures that
`defs/checks.py` turns into asset check results. Which checks apply is the spec's."""

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg2.extensions import connection

from import_pipeline.core.entities import LINE_ITEMS, ORDERS, Check, EntitySpec
from import_pipeline.core.report import LoadCounts
from import_pipeline.db import checks, ledger
from import_pipeline.files import layout
from import_pipeline.files.store import Store


@dataclass(frozen=True)
class RejectRate:
    """Rejected rows (by the rules or the database) of the rows that reached the rules."""

    rejected: int
    reached: int
    threshold: float


@dataclass(frozen=True)
class HeldRows:
    """Rows this batch held, those still waiting, and every batch's waiting rows."""

    held_now: int
    waiting: int
    outstanding: int
    oldest: str | None


@dataclass(frozen=True)
class Integrity:
    """Rows without their parent, and the parents no foreign key enforces."""

    broken: int
    unenforced: list[str]


@dataclass(frozen=True)
class OrderTotals:
    """Orders checked, those whose total differs from their lines, and a sample of them;
    `skipped` says why the sums were not taken again."""

    checked: int
    mismatching: int
    sample: list[tuple[str, str, str]]
    skipped: str = ""


CheckInput = RejectRate | HeldRows | Integrity | OrderTotals


@dataclass(frozen=True)
class Judged:
    """What a finished load hands its checks: the batch, the entity's counts and staging's
    accounting of it (None when the batch does not feed the entity)."""

    partition_key: str
    tenant: str
    counts: LoadCounts
    staged: dict | None
    rejected: int
    max_reject_rate: float


def check_inputs(
    conn: connection,
    loaders: Sequence[connection],
    store: Store,
    spec: EntitySpec,
    judged: Judged,
    wanted: set[str],
    chunk_rows: int,
) -> dict[Check, CheckInput]:
    """The inputs of the spec's checks that were selected (all, unless a run selected
    fewer); the order totals are summed on the loaders' connections, idle by now."""
    inputs: dict[Check, CheckInput] = {}
    for check in spec.checks:
        if check not in wanted:
            continue
        if check is Check.REJECT_RATE:
            inputs[check] = _reject_rate(judged)
        elif check is Check.HELD_ROWS:
            inputs[check] = _held_rows(conn, spec, judged)
        elif check is Check.REFERENTIAL_INTEGRITY:
            unenforced = checks.unenforced_parents(conn, spec)
            broken = checks.orphans(conn, spec, judged.tenant, unenforced) if unenforced else 0
            inputs[check] = Integrity(broken, unenforced)
        elif check is Check.ORDER_TOTALS:
            inputs[check] = _order_totals(conn, loaders, store, judged, chunk_rows)
    return inputs


def _reject_rate(judged: Judged) -> RejectRate:
    staged = judged.staged
    reached = staged["valid"] + staged["rejected"] if staged else 0
    threshold = staged["threshold"] if staged else judged.max_reject_rate
    return RejectRate(judged.rejected, reached, threshold)


def _held_rows(conn: connection, spec: EntitySpec, judged: Judged) -> HeldRows:
    """Rows this batch held that still wait judge it; other batches' are shown only."""
    waiting = checks.held_of_batch(conn, judged.partition_key, spec.name)
    outstanding, oldest = checks.held_outstanding(conn, judged.tenant, spec.name)
    return HeldRows(judged.counts.held, waiting, outstanding, oldest)


def _order_totals(
    conn: connection,
    loaders: Sequence[connection],
    store: Store,
    judged: Judged,
    chunk_rows: int,
) -> OrderTotals:
    """The orders of the batch's staged orders and line items, unless the batch wrote no
    order and no line item: then their totals are as the batches that wrote them left
    them, and summing every line again would only cost time."""
    key = judged.partition_key
    if not _changed(judged.counts, ledger.step_counts(conn, key, ORDERS.name)):
        return OrderTotals(0, 0, [], skipped="no order or line item of this batch changed")
    order_ids = (
        frame.unique()
        for entity in (ORDERS, LINE_ITEMS)
        for frame in store.scan_parquet(layout.staged_folder(key, entity.name))
        .select("order_id")
        .collect_batches(chunk_size=chunk_rows)
    )
    return OrderTotals(*checks.order_total_mismatches(loaders, judged.tenant, order_ids))


def _changed(line_items: LoadCounts, orders: dict | None) -> bool:
    """Whether this batch wrote any order or line item (a value, not just a version); an
    orders step that has not recorded its counts (a partial re-execution) counts as yes."""
    if orders is None:
        return True
    written = ("inserted", "updated", "resolved")
    return any(counts.get(k) for counts in (line_items.as_dict(), orders) for k in written)
