"""Which database errors a chunk is retried after, and which make it a reject.

Overlapping runs may touch the same keys, so a deadlock or serialization failure is
retried; a constraint error is the data's fault and is isolated to its rows instead.
"""

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from psycopg2 import errors as pg_errors
from psycopg2.extensions import connection, cursor

log = logging.getLogger(__name__)

RETRYABLE = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)
CONSTRAINT_ERRORS = (pg_errors.IntegrityError, pg_errors.DataError)
MAX_ATTEMPTS = 6

_T = TypeVar("_T")


def with_retry(conn: connection, work: Callable[[cursor], _T]) -> _T:
    """Run `work` in a transaction; a deadlock or serialization failure is retried with
    jittered exponential backoff, because overlapping runs may touch the same keys."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with conn, conn.cursor() as cur:
                return work(cur)
        except RETRYABLE as exc:
            if attempt == MAX_ATTEMPTS:
                raise
            pause = 0.05 * 2**attempt * (1 + random.random())
            log.warning(
                "retrying a chunk after %s (attempt %d, %.2fs)", type(exc).__name__, attempt, pause
            )
            time.sleep(pause)
    raise AssertionError("unreachable")


def constraint_label(exc: Exception) -> str:
    diag = getattr(exc, "diag", None)
    name = getattr(diag, "constraint_name", None) or getattr(diag, "sqlstate", None) or "error"
    return f"db:{name}"
