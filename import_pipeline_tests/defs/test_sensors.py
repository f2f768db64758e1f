"""The landing sensor over a local folder: folder batches wait for their marker, tenants
from the path, an unsupported URL is named."""

import json
import os
import threading
import time

import dagster as dg
import pytest

from import_pipeline.definitions import defs as load_definitions
from import_pipeline.defs.in_process import evaluate, run, tick
from import_pipeline.defs.resources import LandingZone, PostgresResource
from import_pipeline.defs.sensors import (
    PAUSE_LIMIT_SECONDS,
    TAG_PROFILE,
    TAG_TENANT,
    TAG_URI,
    landing_sensor,
)
from import_pipeline.files.store import UnsupportedLocation
from import_pipeline_tests.support import LAYOUTS, query, write_csv

pytestmark = pytest.mark.postgres

CUSTOMERS = [{"customer_id": "C1", "email": "ada@example.com"}]
ORDERS = [{"order_id": "O1", "customer_id": "C1", "status": "paid", "ordered_at": "2024-05-01"}]


def test_a_folder_waits_for_its_marker_then_loads_as_one_batch(instance, landing, pipeline_env):
    drop = landing / "drop-1"
    drop.mkdir()
    write_csv(drop / "orders.csv", ORDERS)
    write_csv(drop / "customers.csv", CUSTOMERS)
    waiting = tick(instance, landing, pipeline_env)
    assert waiting.keys == []
    (drop / "_SUCCESS").touch()
    (request,) = tick(instance, landing, pipeline_env, waiting.cursor).run_requests
    assert request.tags[TAG_URI] == drop.resolve().as_uri() + "/"
    assert request.tags[TAG_PROFILE] == "canonical"
    result = run(load_definitions(), instance, request)
    assert result.success
    assert query(pipeline_env, "SELECT order_id, customer_id FROM commerce.orders") == [
        ("O1", "C1")
    ]
    assert query(pipeline_env, "SELECT status, counts ? 'orders' FROM ingest.files") == [
        ("succeeded", True)
    ]


def test_a_tenant_folder_sets_the_tenant_of_every_row(instance, landing, pipeline_env, monkeypatch):
    monkeypatch.setenv("IMPORT_TENANT_FROM_PATH", "true")
    (landing / "acme").mkdir()
    write_csv(landing / "acme" / "customers_1.csv", CUSTOMERS)
    resources = {
        "landing": LandingZone(url=str(landing), settle_seconds=0, tenant_from_path=True),
        "postgres": PostgresResource(url=pipeline_env),
    }
    with dg.build_sensor_context(instance=instance, resources=resources) as ctx:
        result = landing_sensor(ctx)
    assert isinstance(result, dg.SensorResult)
    (request,) = result.run_requests or []
    assert request.tags[TAG_TENANT] == "acme"
    instance.add_dynamic_partitions("batches", [request.partition_key])
    assert run(load_definitions(), instance, request).success
    assert query(pipeline_env, "SELECT tenant, customer_id FROM commerce.customers") == [
        ("acme", "C1")
    ]


@pytest.mark.parametrize("url", ["gs://bucket/landing", "https://example.com/landing"])
def test_a_landing_url_of_an_unsupported_scheme_fails_the_tick_by_name(url, database_url):
    resources = {
        "landing": LandingZone(url=url),
        "postgres": PostgresResource(url=database_url),
    }
    expected = r"IMPORT_LANDING_URL=.*is not a supported storage"
    with (
        dg.build_sensor_context(resources=resources) as ctx,
        pytest.raises(UnsupportedLocation, match=expected),
    ):
        landing_sensor(ctx)


def test_partitions_run_in_reverse_order_still_leave_the_newer_rows(
    instance, landing, pipeline_env
):
    for month, name, age in (("04", "Old", 120), ("05", "New", 60)):
        path = write_csv(landing / f"customers_{month}.csv", [dict(CUSTOMERS[0], first_name=name)])
        os.utime(path, (time.time() - age, time.time() - age))
    ticked = tick(instance, landing, pipeline_env, max_files_per_run=1)
    requests = sorted(ticked.run_requests, key=lambda r: r.tags[TAG_URI])
    defs = load_definitions()
    for request in reversed(requests):  # newest first, as a backfill may run them
        assert run(defs, instance, request).success
    assert query(pipeline_env, "SELECT first_name FROM commerce.customers") == [("New",)]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_markers_and_manifests_in_a_folder_never_become_batches(
    layout, instance, landing, database_url
):
    tenants, data, markers, expected = LAYOUTS[layout]
    for key in data + markers:
        (landing / key).parent.mkdir(parents=True, exist_ok=True)
        (landing / key).write_bytes(b"customer_id\nC1\n" if key in data else b"{}")
    zone = LandingZone(url=str(landing), settle_seconds=0, tenant_from_path=tenants)
    requests = evaluate(landing_sensor, instance, zone, database_url, None).run_requests
    root = landing.resolve().as_uri() + "/"
    assert sorted(r.tags[TAG_URI].removeprefix(root) for r in requests) == expected


def test_a_file_landed_just_before_a_tick_is_requested_by_that_tick(
    instance, landing, database_url
):
    write_csv(landing / "customers_fresh.csv", CUSTOMERS)
    zone = LandingZone(url=str(landing), settle_seconds=1.5)
    started = time.monotonic()
    result = evaluate(landing_sensor, instance, zone, database_url, None)
    assert [r.tags[TAG_URI].rsplit("/", 1)[1] for r in result.run_requests] == [
        "customers_fresh.csv"
    ]
    assert time.monotonic() - started >= 1.0  # it waited for the file to hold still


def test_a_file_still_being_written_after_the_pause_waits_for_the_next_tick(
    instance, landing, database_url
):
    path = write_csv(landing / "customers_growing.csv", CUSTOMERS)
    writing = threading.Event()

    def keep_writing() -> None:
        while not writing.wait(0.2):
            with path.open("a") as out:
                out.write("C2,bo@example.com\n")

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        zone = LandingZone(url=str(landing), settle_seconds=1.0)
        result = evaluate(landing_sensor, instance, zone, database_url, None)
    finally:
        writing.set()
        writer.join()
    assert result.run_requests == []
    assert json.loads(result.cursor or "{}")["waiting"]


def test_a_settle_time_longer_than_a_tick_may_wait_leaves_the_file_to_a_later_tick(
    instance, landing, database_url
):
    write_csv(landing / "customers_slow_writer.csv", CUSTOMERS)
    zone = LandingZone(url=str(landing), settle_seconds=PAUSE_LIMIT_SECONDS + 50)
    started = time.monotonic()
    result = evaluate(landing_sensor, instance, zone, database_url, None)
    assert result.run_requests == []
    assert time.monotonic() - started < PAUSE_LIMIT_SECONDS
