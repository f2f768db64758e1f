"""A load that changes a product's price or stock writes the old and new values to
commerce.product_history; a re-load or an older file writes nothing."""

from datetime import UTC, datetime
from decimal import Decimal

from import_pipeline_tests.support import materialization, query, run, tick, write_csv


def version(day: int, price: str, stock: str) -> list[dict]:
    updated = f"2024-0{day}-01T00:00:00Z"
    return [
        {"product_id": "P1", "name": "Tea", "price": price, "stock": stock, "updated_at": updated},
        {"product_id": "P2", "name": "Cup", "price": "3.00", "stock": "", "updated_at": updated},
    ]


def load(defs, instance, landing, database_url, name: str, rows: list[dict]) -> dict:
    """Drop and load one file; its products metadata, with the batch's partition key."""
    write_csv(landing / name, rows)
    (request,) = tick(instance, landing, database_url).run_requests
    result = run(defs, instance, request)
    assert result.success
    return {**materialization(result, "products"), "key": request.partition_key}


def test_price_history_holds_v1_to_v2_and_nothing_for_v2_again_or_an_older_v1(
    defs, instance, landing, pipeline_env
):
    history = (
        "SELECT product_id, version, _batch, old_price, new_price, old_stock, new_stock"
        " FROM commerce.product_history"
    )
    v1 = load(defs, instance, landing, pipeline_env, "products1.csv", version(1, "4.50", "10"))
    assert query(pipeline_env, history) == [], "a new product has no history"
    assert (v1["prices_changed"], v1["stock_changed"]) == (0, 0)

    v2 = load(defs, instance, landing, pipeline_env, "products2.csv", version(2, "5.00", "7"))
    expected = [
        ("P1", datetime(2024, 2, 1, tzinfo=UTC), v2["key"], Decimal("4.5000"),
         Decimal("5.0000"), 10, 7)
    ]  # fmt: skip
    assert query(pipeline_env, history) == expected
    assert (v2["prices_changed"], v2["stock_changed"]) == (1, 1)

    again = load(defs, instance, landing, pipeline_env, "products3.csv", version(2, "5.00", "7"))
    older = load(defs, instance, landing, pipeline_env, "products4.csv", version(1, "4.50", "10"))
    assert query(pipeline_env, history) == expected
    assert again["prices_changed"] == older["prices_changed"] == 0
    assert query(
        pipeline_env, "SELECT price, stock FROM commerce.products WHERE product_id = 'P1'"
    ) == [(Decimal("5.0000"), 7)]
