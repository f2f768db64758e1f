"""The code location loads and wires the asset graph in foreign-key order."""

import dagster as dg

from import_pipeline.definitions import defs as load_definitions


def test_the_asset_graph_runs_staging_then_entities_in_foreign_key_order(monkeypatch):
    for name in ("DATABASE_URL", "IMPORT_LANDING_URL", "IMPORT_STAGING_URL"):
        monkeypatch.setenv(name, "unused")
    defs = load_definitions()
    graph = defs.resolve_asset_graph()
    parents = {
        key.to_user_string(): sorted(p.to_user_string() for p in graph.get(key).parent_keys)
        for key in graph.get_all_asset_keys()
    }
    assert parents == {
        "staged_batch": [],
        "customers": ["staged_batch"],
        "products": ["staged_batch"],
        "orders": ["customers", "staged_batch"],
        "line_items": ["orders", "products", "staged_batch"],
        "product_search_documents": ["products"],
        "product_images": ["products"],
        "possible_duplicate_products": ["product_images"],
    }
    job = defs.resolve_job_def("import_batch")
    assert dg.AssetKey("product_search_documents") not in job.asset_layer.executable_asset_keys
    assert job.partitions_def is not None and job.partitions_def.name == "batches"
    assert "product_images" not in {
        k.to_user_string() for k in job.asset_layer.executable_asset_keys
    }, "images run as their own job: they never slow or fail an import run"
    every_job = {job.name for job in defs.get_repository_def().get_all_jobs()}
    assert {"import_batch", "fetch_product_images"} <= every_job, "the code location loads whole"
    images = defs.resolve_job_def("fetch_product_images")
    assert images.partitions_def is not None and images.partitions_def.name == "batches"
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert ("line_items", "order_totals_match_lines") in checks
    assert ("orders", "held_rows") in checks and ("customers", "reject_rate") in checks
    assert defs.resolve_sensor_def("landing_sensor").default_status == (
        dg.DefaultSensorStatus.RUNNING
    )
