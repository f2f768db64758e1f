"""The landing sensor's two ways of finding batches: a bounded listing window (every tick,
or with a queue of S3 events only every `listing_interval_seconds` as the safety net for
lost events) and the event pass, whose cost does not grow with the bucket."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import dagster as dg

from import_pipeline.core.events import UnreadableEvent, created_objects
from import_pipeline.core.landing import LandedBatch
from import_pipeline.defs.resources import LandingZone

LISTED_AT = "listed_at"
"""Cursor entry: when the last full listing pass ended (event mode only)."""


def listing_due(landing: LandingZone, cursor: dict, now: datetime) -> bool:
    """Without a queue the listing finds everything, every tick. With one, a listing pass
    under way goes on every tick, and a new one starts `listing_interval_seconds` after
    the last one ended."""
    if not landing.queue_url or cursor.get("after"):
        return True
    ended = cursor.get(LISTED_AT)
    elapsed = now.timestamp() - ended if ended is not None else float("inf")
    return elapsed >= landing.listing_interval_seconds


def listing_cursor(landing: LandingZone, cursor: dict, listed: dict | None, now: datetime) -> dict:
    """The cursor after this tick: what the listing pass left (None: it did not run, the
    cursor stays) plus, with a queue, when the last whole pass ended."""
    if listed is None:
        return cursor
    if not landing.queue_url:
        return listed
    ended = cursor.get(LISTED_AT) if listed.get("after") else now.timestamp()
    return listed | ({LISTED_AT: ended} if ended is not None else {})


@contextmanager
def announced_batches(
    context: dg.SensorEvaluationContext, landing: LandingZone
) -> Iterator[list[LandedBatch]]:
    """The ready batches the queue's messages announce (none without a queue). The
    messages are deleted only when the block ends normally, i.e. after the caller put the
    batches in the ledger: a tick that dies first leaves them to be delivered again."""
    if not landing.queue_url:
        yield []
        return
    queue = landing.queue()
    messages = queue.receive(landing.queue_max_messages)
    objects = []
    for message in messages:
        try:
            objects += created_objects(message.body)
        except UnreadableEvent as exc:
            context.log.warning(f"deleted a message of {landing.queue_url}: {exc}")
    yield landing.announced_batches(objects)
    queue.delete(messages)


def merged(*found: list[LandedBatch]) -> list[LandedBatch]:
    """One batch per partition key when the listing and the events find the same one."""
    return list({b.partition_key: b for batches in found for b in batches}.values())
