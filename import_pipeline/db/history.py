"""commerce.product_history (written by a trigger, migration 010): what a batch changed."""

from psycopg2.extensions import connection


def batch_changes(conn: connection, partition_key: str) -> dict[str, int]:
    """How many products this batch gave a new price, and a new stock."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FILTER (WHERE old_price IS DISTINCT FROM new_price),"
            "       count(*) FILTER (WHERE old_stock IS DISTINCT FROM new_stock)"
            "  FROM commerce.product_history WHERE _batch = %s",
            (partition_key,),
        )
        prices, stock = cur.fetchone()
    return {"prices_changed": prices, "stock_changed": stock}
