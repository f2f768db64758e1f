"""How a step fails: a transient database error is retried with backoff, the rest is final.

Dagster's RetryPolicy retries every failure, a Terminate included (an interrupt under a
policy becomes a retry request), so the steps carry no policy: they raise RetryRequested
for a transient error (a lost connection, a timeout, a serialization failure) themselves,
and a named file error, or anything else, fails the step at once.
"""

import random
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from import_pipeline.db.failures import is_transient, original_error
from import_pipeline.defs.resources import ImportSettings


def backoff(retry_number: int, base_seconds: float) -> float:
    """Seconds before retry `retry_number + 1`: doubling from `base_seconds`, jittered so
    runs that lost the same server do not all come back at the same moment."""
    return base_seconds * 2**retry_number * (1 + random.random() / 2)


@contextmanager
def transient_retried(
    context: dg.AssetExecutionContext, settings: ImportSettings
) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        if not is_transient(exc):
            raise
        cause = original_error(exc)
        if context.retry_number >= settings.step_retries:
            raise cause from cause.__cause__  # the step shows the error, not "max retries"
        context.log.warning(f"retrying the step after a transient error: {cause}")
        raise dg.RetryRequested(
            max_retries=settings.step_retries,
            seconds_to_wait=backoff(context.retry_number, settings.retry_backoff_seconds),
        ) from cause
