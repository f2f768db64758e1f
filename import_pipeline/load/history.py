"""The products' price and stock changes a batch made, for its metadata."""

from collections.abc import Callable
from contextlib import AbstractContextManager

from psycopg2.extensions import connection

from import_pipeline.db import history


def batch_changes(
    connect: Callable[[], AbstractContextManager[connection]], partition_key: str
) -> dict[str, int]:
    """`prices_changed` and `stock_changed` by this batch (its history rows)."""
    with connect() as conn:
        return history.batch_changes(conn, partition_key)
