"""The four entity assets share one step: a subset loads alone, a failed parent stops only
its children, and every selected asset is still reported on its own."""

from pathlib import Path

import dagster as dg
import pytest

from import_pipeline.defs.in_process import materializations, run, tick
from import_pipeline_tests.support import (
    CUSTOMERS,
    LINE_ITEMS,
    ORDERS,
    PRODUCTS,
    materialization,
    query,
    write_csv,
)

pytestmark = pytest.mark.postgres

ENTITIES = ("customers", "products", "orders", "line_items")


def drop_folder(landing: Path) -> None:
    folder = landing / "drop-1"
    folder.mkdir()
    for name, rows in zip(ENTITIES, (CUSTOMERS, PRODUCTS, ORDERS, LINE_ITEMS), strict=True):
        write_csv(folder / f"{name}.csv", rows)
    (folder / "_SUCCESS").touch()


def test_one_entity_can_be_materialised_again_alone(defs, instance, landing, pipeline_env):
    drop_folder(landing)
    (request,) = tick(instance, landing, pipeline_env).run_requests
    assert run(defs, instance, request).success

    again = defs.resolve_job_def("import_batch").execute_in_process(
        partition_key=request.partition_key,
        instance=instance,
        tags=request.tags,
        asset_selection=[dg.AssetKey("orders")],
    )

    assert [e.asset_key.to_user_string() for e in again.get_asset_materialization_events()] == [
        "orders"
    ]
    assert materialization(again, "orders")["unchanged"] == 2
    checked = {
        (e.asset_key.to_user_string(), e.check_name) for e in again.get_asset_check_evaluations()
    }
    assert checked == {
        ("orders", "reject_rate"),
        ("orders", "held_rows"),
        ("orders", "referential_integrity"),
    }


def test_a_check_left_out_of_the_selection_is_not_evaluated(defs, instance, landing, pipeline_env):
    drop_folder(landing)
    (request,) = tick(instance, landing, pipeline_env).run_requests
    orders = dg.AssetKey("orders")
    job = defs.resolve_job_def("import_batch").get_subset(
        asset_selection={dg.AssetKey(e) for e in ENTITIES[:3]} | {dg.AssetKey("staged_batch")},
        asset_check_selection={dg.AssetCheckKey(orders, "held_rows")},
    )

    result = job.execute_in_process(
        partition_key=request.partition_key, instance=instance, tags=request.tags
    )

    assert result.success
    assert [(e.asset_key, e.check_name) for e in result.get_asset_check_evaluations()] == [
        (orders, "held_rows")
    ]
    assert materialization(result, "orders")["inserted"] == 2


def test_a_failed_load_stops_its_children_and_the_others_are_still_reported(
    defs, instance, landing, pipeline_env
):
    drop_folder(landing)
    (request,) = tick(instance, landing, pipeline_env).run_requests
    query(pipeline_env, "ALTER TABLE commerce.customers RENAME TO customers_elsewhere; SELECT 1")

    result = run(defs, instance, request)

    assert not result.success
    loaded = {e: len(materializations(result, e)) for e in ENTITIES}
    assert loaded == {"customers": 0, "products": 1, "orders": 0, "line_items": 0}
    assert query(pipeline_env, "SELECT count(*) FROM commerce.products") == [(2,)]
    assert query(pipeline_env, "SELECT count(*) FROM commerce.orders") == [(0,)]
    ((status, error),) = query(pipeline_env, "SELECT status, error FROM ingest.files")
    assert status == "failed" and "customers" in error


def test_a_folder_batch_loads_the_files_of_its_sub_folders(defs, instance, landing, pipeline_env):
    folder = landing / "drop-2"
    for name, rows in zip(ENTITIES, (CUSTOMERS, PRODUCTS, ORDERS, LINE_ITEMS), strict=True):
        part = folder / ("parents" if name in ("customers", "products") else "children")
        part.mkdir(parents=True, exist_ok=True)
        write_csv(part / f"{name}_2024-05.csv", rows)
    (folder / "_SUCCESS").touch()

    (request,) = tick(instance, landing, pipeline_env).run_requests
    assert run(defs, instance, request).success

    for name, rows in zip(ENTITIES, (CUSTOMERS, PRODUCTS, ORDERS, LINE_ITEMS), strict=True):
        stored = query(pipeline_env, f'SELECT count(*) FROM commerce."{name}"')
        assert stored == [(len(rows),)], f"{name} of a sub-folder"
