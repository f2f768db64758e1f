"""Many small files of a tick load in a few runs, each file still its own batch: its own
partition, ledger row, rejects and outcome, loaded exactly once."""

import os
import time
from pathlib import Path

import dagster as dg

from import_pipeline.defs.images import product_images_sensor
from import_pipeline.defs.partitions import RANGE_START_TAG
from import_pipeline.defs.resources import LandingZone
from import_pipeline.defs.sensors import TAG_FILES, landing_sensor
from import_pipeline_tests.support import Tick, evaluate, query, run, tick, write_csv


def customer(i: int) -> dict:
    return {"customer_id": f"C{i:03}", "email": f"c{i:03}@example.com"}


def drop_burst(landing: Path) -> None:
    """48 one-row customers files, one file of an unknown entity, and one whose every row
    breaks a rule (over the reject threshold)."""
    for i in range(48):
        write_csv(landing / f"customers_{i:03}.csv", [customer(i)])
    write_csv(landing / "invoices_001.csv", [{"invoice_id": "I1", "total": "3"}])
    write_csv(landing / "customers_bad.csv", [{"customer_id": "X1", "email": "not an email"}])


def load_all(defs: dg.Definitions, instance: dg.DagsterInstance, ticked: Tick) -> list:
    return [run(defs, instance, request) for request in ticked.run_requests]


def ledger(database_url: str) -> dict[str, tuple[str, str | None]]:
    rows = query(database_url, "SELECT uri, status, error FROM ingest.files")
    return {uri.rsplit("/", 1)[-1]: (status, error) for uri, status, error in rows}


def test_fifty_files_of_a_tick_load_in_fewer_runs_each_once_and_bad_ones_fail_alone(
    defs, instance, landing, pipeline_env
):
    drop_burst(landing)
    first = tick(instance, landing, pipeline_env)
    assert len(first.keys) == 50 and len(set(first.keys)) == 50
    assert len(first.run_requests) < 50
    assert any(RANGE_START_TAG in r.tags for r in first.run_requests)
    results = load_all(defs, instance, first)

    files = ledger(pipeline_env)
    good = {name: row for name, row in files.items() if name.startswith("customers_0")}
    assert len(good) == 48 and {row for row in good.values()} == {("succeeded", None)}
    assert files["invoices_001.csv"][0] == "failed"
    assert "UnknownEntity" in files["invoices_001.csv"][1]
    assert files["customers_bad.csv"][0] == "failed"
    assert "TooManyRejects" in files["customers_bad.csv"][1]
    assert query(
        pipeline_env, "SELECT count(*), count(DISTINCT customer_id) FROM commerce.customers"
    ) == [(48, 48)]
    assert query(
        pipeline_env,
        "SELECT count(*) FROM ingest.rejects r JOIN ingest.files f USING (partition_key)"
        " WHERE f.uri LIKE '%%customers_bad.csv'",
    ) == [(1,)]
    # A run with a bad file fails, naming it; its good files are materialised each under
    # their own partition.
    assert not all(r.success for r in results)
    materialised = {
        event.partition
        for result in results
        for event in result.get_asset_materialization_events()
        if event.asset_key == dg.AssetKey("customers")
    }
    loaded = query(
        pipeline_env, "SELECT partition_key FROM ingest.files WHERE status = 'succeeded'"
    )
    assert materialised == {key for (key,) in loaded}

    again = tick(instance, landing, pipeline_env, first.cursor)
    assert again.run_requests == []


def test_a_tick_before_the_runs_start_requests_nothing_again(instance, landing, pipeline_env):
    drop_burst(landing)
    first = tick(instance, landing, pipeline_env)
    again = tick(instance, landing, pipeline_env)
    assert len(first.keys) == 50 and again.run_requests == []


def test_the_run_page_lists_every_file_with_its_outcome(defs, instance, landing, pipeline_env):
    drop_burst(landing)
    first = tick(instance, landing, pipeline_env)
    request = next(r for r in first.run_requests if r.tags.get(TAG_FILES) == "50")
    result = run(defs, instance, request)
    (table,) = [
        event.event_specific_data.asset_observation.metadata["run_files"].value
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.ASSET_OBSERVATION
        and "run_files" in event.event_specific_data.asset_observation.metadata
    ]
    rows = {r.data["file"]: r.data for r in table.records}
    assert len(rows) == 50
    assert rows["customers_007.csv"]["outcome"] == "succeeded"
    assert (rows["customers_007.csv"]["entity"], rows["customers_007.csv"]["rows"]) == (
        "customers",
        1,
    )
    assert rows["customers_bad.csv"]["outcome"].startswith("failed: TooManyRejects")
    assert rows["customers_bad.csv"]["rejects"] == 1


def test_one_changed_file_of_a_burst_loads_alone(defs, instance, landing, pipeline_env):
    drop_burst(landing)
    landed = time.time() - 120
    for path in landing.iterdir():
        os.utime(path, (landed, landed))
    first = tick(instance, landing, pipeline_env)
    load_all(defs, instance, first)
    path = landing / "customers_010.csv"
    write_csv(path, [dict(customer(10), email="changed@example.com")])
    later = time.time() - 60
    os.utime(path, (later, later))
    second = tick(instance, landing, pipeline_env, first.cursor)
    assert len(second.keys) == 1 and second.keys[0] not in first.keys
    (request,) = second.run_requests
    assert request.partition_key == second.keys[0]
    assert run(defs, instance, request).success
    assert query(
        pipeline_env, "SELECT email FROM commerce.customers WHERE customer_id = 'C010'"
    ) == [("changed@example.com",)]


def test_parents_and_children_in_one_burst_end_with_nothing_held(
    defs, instance, landing, pipeline_env
):
    for i in range(10):
        write_csv(
            landing / f"line_items_{i:02}.csv",
            [
                {
                    "line_item_id": f"O{i}-1",
                    "order_id": f"O{i}",
                    "product_id": f"P{i}",
                    "quantity": "1",
                    "unit_price": "2.00",
                    "line_total": "2.00",
                }
            ],
        )
        write_csv(
            landing / f"orders_{i:02}.csv",
            [
                {
                    "order_id": f"O{i}",
                    "customer_id": f"C{i:03}",
                    "status": "paid",
                    "currency": "EUR",
                    "total": "2.00",
                    "ordered_at": "2024-05-01T10:00:00Z",
                }
            ],
        )
        write_csv(landing / f"customers_{i:02}.csv", [customer(i)])
        write_csv(
            landing / f"products_{i:02}.csv",
            [
                {
                    "product_id": f"P{i}",
                    "sku": f"S{i}",
                    "name": "Tea",
                    "price": "2",
                    "currency": "EUR",
                }
            ],
        )
    first = tick(instance, landing, pipeline_env)
    assert len(first.run_requests) < 40
    assert all(r.success for r in load_all(defs, instance, first))
    assert query(pipeline_env, "SELECT count(*) FROM commerce.line_items") == [(10,)]
    assert query(pipeline_env, "SELECT count(*) FROM ingest.held_rows") == [(0,)]


def test_runs_are_bounded_by_files_and_a_lone_file_runs_by_its_partition(
    instance, landing, pipeline_env
):
    for i in range(7):
        write_csv(landing / f"customers_{i:03}.csv", [customer(i)])
    zone = LandingZone(url=str(landing), settle_seconds=0, max_files_per_run=3)
    ticked = evaluate(landing_sensor, instance, zone, pipeline_env, None)
    assert [len(ticked.batches(r)) for r in ticked.run_requests] == [3, 3, 1]
    assert ticked.run_requests[-1].partition_key == ticked.keys[-1]
    assert ticked.added == ticked.keys


def test_every_products_file_of_a_run_gets_its_images_requested(
    defs, instance, landing, pipeline_env
):
    for i in range(3):
        product = {"product_id": f"P{i}", "sku": f"S{i}", "name": "Tea", "price": "2"}
        write_csv(landing / f"products_{i}.csv", [dict(product, currency="EUR")])
    first = tick(instance, landing, pipeline_env)
    (request,) = first.run_requests
    assert run(defs, instance, request).success
    ref = instance.get_ref()
    with dg.build_sensor_context(instance_ref=ref, definitions=defs, cursor="0") as context:
        requested = product_images_sensor.evaluate_tick(context).run_requests
    assert sorted(r.partition_key for r in requested) == sorted(first.keys)
