"""Webhook notifications: signed JSON summaries; a slow webhook never turns a run red."""

import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import dagster as dg
import pytest

from import_pipeline.core.notify import SIGNATURE_HEADER, UnsignedWebhooks, post
from import_pipeline.definitions import defs as load_definitions
from import_pipeline.defs.in_process import run, tick
from import_pipeline.defs.notifications import notify_on_failure, notify_on_success
from import_pipeline.defs.resources import Notifier, PostgresResource, StagingArea
from import_pipeline_tests.support import Webhook, query

pytestmark = pytest.mark.postgres

SECRET = "s3cr3t"


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def slow_webhook() -> Iterator[Webhook]:
    hook = Webhook(delay=1.0)
    yield hook
    hook.close()


def load(instance, landing, pipeline_env, name: str, data: bytes) -> dg.ExecuteInProcessResult:
    (landing / name).write_bytes(data)
    (request,) = tick(instance, landing, pipeline_env).run_requests
    return run(load_definitions(), instance, request)


def evaluate(sensor, result, instance, resources, event) -> None:
    with dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources=resources,
    ) as context:
        sensor(context)


def resources(urls: list[str], database_url: str, staging, secret=SECRET, **fields) -> dict:
    return {
        "notifier": Notifier(
            webhook_urls=",".join(urls),
            secret=secret,
            ui_base_url="https://dagster.example/",
            **fields,
        ),
        "postgres": PostgresResource(url=database_url),
        "staging": StagingArea(url=str(staging)),
    }


def test_a_successful_run_posts_a_signed_summary(instance, landing, staging, pipeline_env, webhook):
    valid = "".join(f"C{i},c{i}@example.com\n" for i in range(10))
    rows = f"customer_id,email\n{valid}CX,not-an-email\n".encode()
    result = load(instance, landing, pipeline_env, "customers_1.csv", rows)
    assert result.success
    hooks = resources([webhook.url], pipeline_env, staging)
    evaluate(notify_on_success, result, instance, hooks, result.get_run_success_event())

    ((headers, body),) = webhook.received
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == expected
    summary = json.loads(body)
    assert summary["batch"] == result.dagster_run.tags["dagster/partition"]
    assert (summary["tenant"], summary["status"], summary["ledger_status"]) == (
        "default",
        "succeeded",
        "succeeded",
    )
    assert summary["counts"]["customers"]["inserted"] == 10
    assert summary["rejects_file"].endswith("/rejects.csv")
    assert summary["ui_url"] == f"https://dagster.example/runs/{result.run_id}"


def test_a_failed_run_posts_its_error(instance, landing, staging, pipeline_env, webhook):
    result = load(instance, landing, pipeline_env, "customers_1.csv", b"")
    assert not result.success
    hooks = resources([webhook.url], pipeline_env, staging)
    evaluate(notify_on_failure, result, instance, hooks, result.get_run_failure_event())
    summary = json.loads(webhook.received[0][1])
    assert summary["status"] == "failed" and "EmptyFile" in summary["error"]


def test_a_webhook_that_times_out_leaves_the_run_green_and_the_sensor_completes(
    instance, landing, staging, pipeline_env, slow_webhook, webhook
):
    result = load(instance, landing, pipeline_env, "customers_1.csv", b"customer_id\nC1\n")
    hooks = resources(
        [slow_webhook.url, webhook.url],
        pipeline_env,
        staging,
        timeout_seconds=0.2,
        retries=1,
        backoff_seconds=0.05,
    )
    started = time.monotonic()
    evaluate(notify_on_success, result, instance, hooks, result.get_run_success_event())
    assert time.monotonic() - started < 3
    assert len(webhook.received) == 1, "the next webhook is still notified"
    assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.SUCCESS


def test_a_refused_connection_is_retried_then_reported_not_raised():
    refused = post("http://127.0.0.1:9/hook", b"{}", SECRET, 0.5, 2, 0.01)
    assert (refused.delivered, refused.attempts) == (False, 3)


RETRIES = {"run_retries": {"enabled": True, "max_retries": 1, "retry_on_asset_or_op_failure": True}}
"""Dagster's run retries as a deployment's dagster.yaml may set them."""


def test_a_failed_run_that_dagster_will_retry_announces_its_retry_not_a_failure(
    landing, staging, pipeline_env, webhook
):
    with dg.instance_for_test(overrides=RETRIES) as retrying:
        result = load(retrying, landing, pipeline_env, "customers_1.csv", b"")
        assert retrying.get_run_by_id(result.run_id).tags["dagster/will_retry"] == "true"
        hooks = resources([webhook.url], pipeline_env, staging)
        evaluate(notify_on_failure, result, retrying, hooks, result.get_run_failure_event())
    ((_, body),) = webhook.received
    summary = json.loads(body)
    assert summary["status"] == "retrying"
    assert summary["attempt"] == 1


def test_a_run_killed_while_running_is_announced_failed_with_the_ledger_made_final(
    instance, landing, staging, pipeline_env, webhook
):
    result = load(instance, landing, pipeline_env, "customers_1.csv", b"")
    query(  # what a run worker killed mid-run leaves behind: no outcome recorded
        pipeline_env,
        "UPDATE ingest.files SET status = 'running', error = NULL RETURNING 1",
    )
    hooks = resources([webhook.url], pipeline_env, staging)
    evaluate(notify_on_failure, result, instance, hooks, result.get_run_failure_event())
    summary = json.loads(webhook.received[0][1])
    assert (summary["status"], summary["ledger_status"]) == ("failed", "failed")
    assert "ended without recording an outcome" in summary["error"]
    assert query(pipeline_env, "SELECT status FROM ingest.files") == [("failed",)]


def test_webhook_urls_without_a_secret_fail_the_sensor_by_name_and_send_nothing(
    instance, landing, staging, pipeline_env, webhook
):
    result = load(instance, landing, pipeline_env, "customers_1.csv", b"customer_id\nC1\n")
    hooks = resources([webhook.url], pipeline_env, staging, secret="")
    with pytest.raises(UnsignedWebhooks, match="IMPORT_WEBHOOK_SECRET is empty"):
        evaluate(notify_on_success, result, instance, hooks, result.get_run_success_event())
    with pytest.raises(UnsignedWebhooks):
        post(webhook.url, b"{}", "", 0.5, 0, 0.01)
    assert webhook.received == []
