"""S3 event notifications (as SQS delivers them) -> the objects they say were created.

Pure parsing: the landing sensor's event pass turns each created object into a file record
without listing the bucket, so finding a new file costs the same whatever the bucket holds.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote_plus

from import_pipeline.core.landing import FileRecord, is_listed, unit_of


class UnreadableEvent(ValueError):
    """A queue message is not an S3 event notification; the message names what it holds."""

    def __init__(self, problem: str, body: str) -> None:
        super().__init__(
            f"UnreadableEvent: {problem} (message starts {body[:80]!r}). Point only S3 event "
            "notifications (ObjectCreated) of the landing bucket at this queue, directly or "
            "through SNS with raw delivery off."
        )


@dataclass(frozen=True)
class CreatedObject:
    """An object an `ObjectCreated:*` event announced, as the event describes it."""

    bucket: str
    key: str
    size: int
    etag: str
    time: datetime


def created_objects(body: str) -> list[CreatedObject]:
    """The objects a message says were created; none for S3's `s3:TestEvent` (sent when the
    notification is configured) and for removals. Keys come URL-encoded (`+` for a space)."""
    message = _json(body)
    if message.get("Type") == "Notification" and isinstance(message.get("Message"), str):
        message = _json(message["Message"])
    if message.get("Event") == "s3:TestEvent":
        return []
    records = message.get("Records")
    if not isinstance(records, list):
        raise UnreadableEvent("no `Records` list", body)
    try:
        return [_created(r) for r in records if r.get("eventName", "").startswith("ObjectCreated")]
    except (KeyError, TypeError, ValueError) as exc:
        raise UnreadableEvent(f"a record lacks {exc}", body) from exc


def _json(body: str) -> dict:
    try:
        message = json.loads(body)
    except ValueError:
        raise UnreadableEvent("not JSON", body) from None
    if not isinstance(message, dict):
        raise UnreadableEvent("not a JSON object", body)
    return message


def _created(record: dict) -> CreatedObject:
    s3 = record["s3"]
    item = s3["object"]
    return CreatedObject(
        bucket=s3["bucket"]["name"],
        key=unquote_plus(item["key"]),
        size=int(item.get("size", 0)),
        etag=str(item.get("eTag", "")).strip('"'),
        time=datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00")),
    )


@dataclass(frozen=True)
class Announced:
    """What a tick's events mean for the landing zone: files that are batches of their own,
    ready to plan as they are, and folder batches to list (a folder's readiness and version
    need all of its files)."""

    files: list[FileRecord]
    folders: list[str]


def announced(
    objects: list[CreatedObject],
    bucket: str,
    prefix: str,
    uri_for: Callable[[str], str],
    tenant_from_path: bool,
) -> Announced:
    """The landing zone's share of created objects (`prefix` ends in `/` or is empty):
    objects of other buckets or prefixes, hidden, temporary and processed ones are none of
    its business. The newest event of a key wins."""
    files: dict[str, FileRecord] = {}
    folders: set[str] = set()
    for obj in sorted(objects, key=lambda o: o.time):
        key = obj.key.removeprefix(prefix)
        if obj.bucket != bucket or not obj.key.startswith(prefix) or not is_listed(key):
            continue
        unit = unit_of(key, tenant_from_path)
        if unit.is_folder:
            folders.add(unit.key)
        else:
            files[key] = FileRecord(uri_for(key), key, obj.size, obj.time, obj.etag)
    return Announced(sorted(files.values(), key=lambda r: r.key), sorted(folders))
