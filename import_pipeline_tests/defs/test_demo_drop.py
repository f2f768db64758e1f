"""The demo drop `make dev` seeds its landing folder with loads green, as the README says."""

import shutil
from pathlib import Path

from import_pipeline.defs.in_process import run, tick
from import_pipeline_tests.support import query

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"


def test_every_demo_batch_succeeds_with_no_reject_and_nothing_held(
    defs, instance, landing, pipeline_env
):
    for example in DEMO.iterdir():
        shutil.copy2(example, landing / example.name)

    ticked = tick(instance, landing, pipeline_env)
    results = [run(defs, instance, request) for request in ticked.run_requests]

    assert len(ticked.keys) == len(list(DEMO.iterdir()))
    assert [r.success for r in results] == [True] * len(results)
    assert query(pipeline_env, "SELECT DISTINCT status, profile FROM ingest.files") == [
        ("succeeded", "canonical")
    ]
    assert query(pipeline_env, "SELECT count(*) FROM ingest.rejects") == [(0,)]
    assert query(pipeline_env, "SELECT count(*) FROM ingest.held_rows") == [(0,)]
    failed_checks = [
        (e.asset_key.to_user_string(), e.check_name)
        for result in results
        for e in result.get_asset_check_evaluations()
        if not e.passed
    ]
    assert failed_checks == [], "green: no check warns either"
