"""S3 event notifications as SQS delivers them: what was created, and the landing zone's
share of it."""

import json

import pytest

from import_pipeline.core.events import UnreadableEvent, announced, created_objects


def event(key: str, name: str = "ObjectCreated:Put", bucket: str = "drops") -> dict:
    return {
        "eventName": name,
        "eventTime": "2026-12-06T17:10:30.356Z",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 3, "eTag": "abc"}},
    }


def test_keys_arrive_url_encoded_with_plus_for_a_space():
    (obj,) = created_objects(json.dumps({"Records": [event("landing%2Fa+b%2Bc.csv")]}))
    assert (obj.bucket, obj.key, obj.size, obj.etag) == ("drops", "landing/a b+c.csv", 3, "abc")
    assert obj.time.isoformat() == "2026-12-06T17:10:30.356000+00:00"


def test_the_test_event_and_removals_announce_nothing():
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "drops"}
    assert created_objects(json.dumps(test_event)) == []
    removed = {"Records": [event("landing/a.csv", name="ObjectRemoved:Delete")]}
    assert created_objects(json.dumps(removed)) == []


def test_an_event_wrapped_by_sns_is_unwrapped():
    inner = json.dumps({"Records": [event("landing/a.csv")]})
    wrapped = json.dumps({"Type": "Notification", "Message": inner})
    assert [o.key for o in created_objects(wrapped)] == ["landing/a.csv"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [("hello", "not JSON"), ("[1]", "not a JSON object"), ("{}", "no `Records` list")],
)
def test_a_message_that_is_no_event_is_named(body, problem):
    with pytest.raises(UnreadableEvent, match=problem):
        created_objects(body)


def test_only_the_zone_s_own_new_files_count_and_a_folder_is_listed_whole():
    objects = created_objects(
        json.dumps(
            {
                "Records": [
                    event("landing/customers.csv"),
                    event("landing/drop-1/orders.csv"),
                    event("landing/drop-1/_SUCCESS"),
                    event("landing/_processed/2026-12-06/customers.csv"),
                    event("landing/.upload.tmp"),
                    event("elsewhere/products.csv"),
                    event("landing/products.csv", bucket="other"),
                ]
            }
        )
    )
    news = announced(objects, "drops", "landing/", lambda k: f"s3://drops/landing/{k}", False)
    assert [r.key for r in news.files] == ["customers.csv"]
    assert news.files[0].uri == "s3://drops/landing/customers.csv"
    assert news.folders == ["drop-1/"]
