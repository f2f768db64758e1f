"""The landing sensor in event mode, against moto over HTTP serving both S3 and SQS: the
bucket's notifications go to a real queue, and each object is registered once however
often its message arrives and wherever a tick dies."""

import json
import time
import uuid
from typing import Any

import pytest

from import_pipeline.defs.landing_events import LISTED_AT
from import_pipeline.defs.resources import LandingZone
from import_pipeline.defs.sensors import TAG_URI
from import_pipeline.files.sqs import LandingQueue
from import_pipeline_tests.support import (
    LISTED,
    CountingS3,
    csv_bytes,
    put,
    query,
    s3_settings,
    s3_tick,
)

pytestmark = [pytest.mark.s3, pytest.mark.postgres]

CUSTOMERS = [{"customer_id": "C1", "email": "ada@example.com"}]


@pytest.fixture
def sqs(s3_endpoint: str) -> Any:
    import boto3

    settings = s3_settings(s3_endpoint)
    return boto3.client("sqs", **settings)


@pytest.fixture
def queue_url(sqs: Any, client: Any, s3_bucket: str) -> str:
    """A queue the bucket's ObjectCreated events below `landing/` are delivered to (S3
    first sends its test event, as AWS does)."""
    url = sqs.create_queue(QueueName=f"landing-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    rule = {"Name": "prefix", "Value": "landing/"}
    client.put_bucket_notification_configuration(
        Bucket=s3_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn["QueueArn"],
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [rule]}},
                }
            ]
        },
    )
    return url


def zone(bucket: str, aws: CountingS3, queue_url: str, endpoint: str, **fields) -> LandingZone:
    return LandingZone(
        url=f"s3://{bucket}/landing",
        s3=aws,
        queue_url=queue_url,
        queue_endpoint_url=endpoint,
        queue_wait_seconds=0,
        queue_visibility_seconds=1,
        **fields,
    )


def listed_recently() -> str:
    """A cursor whose full listing pass has just ended: only events can find a file."""
    return json.dumps({"after": "", LISTED_AT: time.time()})


def waiting(sqs: Any, url: str) -> int:
    attributes = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=attributes)["Attributes"]
    return sum(int(counts[name]) for name in attributes)


def test_a_new_object_is_requested_from_its_event_without_listing_the_bucket(
    instance, aws, client, sqs, queue_url, s3_bucket, s3_endpoint, database_url
):
    for i in range(30):
        put(client, s3_bucket, f"old/customers_{i}.csv", b"customer_id\nC1\n")
    put(client, s3_bucket, "landing/customers a+b.csv", csv_bytes(CUSTOMERS))
    LISTED.clear()
    tick = s3_tick(
        instance, zone(s3_bucket, aws, queue_url, s3_endpoint), database_url, listed_recently()
    )
    assert LISTED == [], "no ListObjects call"
    assert [r.tags[TAG_URI] for r in tick.run_requests] == [
        f"s3://{s3_bucket}/landing/customers a+b.csv"
    ]
    assert query(database_url, "SELECT count(*) FROM ingest.files") == [(1,)]
    assert waiting(sqs, queue_url) == 0, "handled messages are deleted"


def test_a_message_delivered_twice_registers_its_object_once(
    instance, aws, client, sqs, queue_url, s3_bucket, s3_endpoint, database_url
):
    sqs.purge_queue(QueueUrl=queue_url)
    put(client, s3_bucket, "landing/customers_1.csv", csv_bytes(CUSTOMERS))
    (message,) = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"])
    sqs.change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    landing = zone(s3_bucket, aws, queue_url, s3_endpoint)
    first = s3_tick(instance, landing, database_url, listed_recently())
    sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"])
    second = s3_tick(instance, landing, database_url, first.cursor)
    assert len(first.run_requests) == 1
    assert second.keys in ([], first.keys), "a later copy is the same run key at most"
    assert query(database_url, "SELECT count(*) FROM ingest.files") == [(1,)]
    assert waiting(sqs, queue_url) == 0


class DiesBeforeDeleting(LandingQueue):
    def delete(self, messages: list) -> None:
        raise RuntimeError("the tick died after the ledger, before the delete")


class DyingZone(LandingZone):
    def queue(self) -> LandingQueue:
        alive = super().queue()
        return DiesBeforeDeleting(alive.sqs, alive.url, 0, alive.visibility_seconds)


def test_a_tick_that_dies_before_deleting_gets_the_message_again_and_requests_it_once(
    instance, aws, client, sqs, queue_url, s3_bucket, s3_endpoint, database_url
):
    put(client, s3_bucket, "landing/customers_1.csv", csv_bytes(CUSTOMERS))
    dying = DyingZone(**zone(s3_bucket, aws, queue_url, s3_endpoint).model_dump())
    with pytest.raises(RuntimeError, match="tick died"):
        s3_tick(instance, dying, database_url, listed_recently())
    assert query(database_url, "SELECT status FROM ingest.files") == [("queued",)]
    time.sleep(1.2)  # the visibility timeout: the undeleted messages come back
    tick = s3_tick(
        instance, zone(s3_bucket, aws, queue_url, s3_endpoint), database_url, listed_recently()
    )
    assert [r.tags[TAG_URI].rsplit("/", 1)[1] for r in tick.run_requests] == ["customers_1.csv"]
    assert query(database_url, "SELECT count(*) FROM ingest.files") == [(1,)]
    assert waiting(sqs, queue_url) == 0


def test_a_folder_batch_is_requested_when_its_marker_s_event_arrives(
    instance, aws, client, queue_url, s3_bucket, s3_endpoint, database_url
):
    landing = zone(s3_bucket, aws, queue_url, s3_endpoint)
    put(client, s3_bucket, "landing/drop-7/customers.csv", csv_bytes(CUSTOMERS))
    before = s3_tick(instance, landing, database_url, listed_recently())
    put(client, s3_bucket, "landing/drop-7/_SUCCESS", b"")
    after = s3_tick(instance, landing, database_url, before.cursor)
    assert before.run_requests == []
    assert [r.tags[TAG_URI] for r in after.run_requests] == [f"s3://{s3_bucket}/landing/drop-7/"]


def test_a_message_that_is_no_event_is_dropped_with_a_warning(
    instance, aws, sqs, queue_url, s3_bucket, s3_endpoint, database_url
):
    sqs.send_message(QueueUrl=queue_url, MessageBody="not an event")
    landing = zone(s3_bucket, aws, queue_url, s3_endpoint)
    assert s3_tick(instance, landing, database_url, listed_recently()).run_requests == []
    assert waiting(sqs, queue_url) == 0


def test_the_listing_finds_a_lost_event_s_object_once_its_interval_has_passed(
    instance, aws, client, sqs, queue_url, s3_bucket, s3_endpoint, database_url
):
    put(client, s3_bucket, "landing/customers_lost.csv", csv_bytes(CUSTOMERS))
    sqs.purge_queue(QueueUrl=queue_url)
    landing = zone(s3_bucket, aws, queue_url, s3_endpoint, listing_interval_seconds=300)
    quiet = s3_tick(instance, landing, database_url, listed_recently())
    stale = json.dumps({"after": "", LISTED_AT: time.time() - 301})
    listing = s3_tick(instance, landing, database_url, stale)
    assert quiet.run_requests == []
    assert [r.tags[TAG_URI].rsplit("/", 1)[1] for r in listing.run_requests] == [
        "customers_lost.csv"
    ]
    assert json.loads(listing.cursor)[LISTED_AT] > time.time() - 60, "the pass ended now"
