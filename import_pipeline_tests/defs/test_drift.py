"""A file with an added, a missing and a renamed-looking column: under `warn` it loads and
the batch's `schema_drift` check, metadata and ledger say how it drifted; under `fail` the
batch fails with SchemaDrift before anything is loaded."""

from pathlib import Path

import dagster as dg
import pytest

from import_pipeline_tests.support import materialization, query, run, tick

HEADER = "customer_id,e_mail,first_name,last_name,phone,country,created_at,loyalty_tier\n"
ROWS = "C1,a@example.com,Ada,Lovelace,1,UK,2024-01-02,gold\nC2,b@example.com,Bo,Li,2,UK,,\n"
DRIFT = {
    "files": [
        {
            "file": "customers_partner_1.csv",
            "entities": ["customers"],
            "added": ["loyalty_tier"],
            "missing_required": [],
            "missing_optional": [],
            "renamed": {"email": "e_mail"},
        }
    ],
    "type_changed": [],
}


def drop_and_run(defs, instance, landing: Path, url: str) -> dg.ExecuteInProcessResult:
    (landing / "customers_partner_1.csv").write_text(HEADER + ROWS)
    (request,) = tick(instance, landing, url).run_requests
    return run(defs, instance, request)


def drift_check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "schema_drift"
    ]
    return evaluation


def test_under_warn_a_drifted_file_loads_and_its_check_warns(defs, instance, landing, pipeline_env):
    result = drop_and_run(defs, instance, landing, pipeline_env)

    assert result.success
    check = drift_check(result)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "renamed-looking email -> e_mail" in check.description
    staged = materialization(result, "staged_batch")
    assert staged["drift"] == DRIFT and staged["drift/files"] == 1
    assert query(pipeline_env, "SELECT drift, status FROM ingest.files") == [(DRIFT, "succeeded")]
    assert query(pipeline_env, "SELECT count(*) FROM commerce.customers") == [(2,)]


def partner_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """A profile `partner.yaml` in a profiles directory of the test's own."""
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "partner.yaml").write_text(text)
    monkeypatch.setenv("IMPORT_PROFILES_DIR", str(profiles))


def test_under_fail_a_drifted_file_fails_its_batch_and_loads_nothing(
    defs, instance, landing, pipeline_env, tmp_path, monkeypatch
):
    partner_profile(
        tmp_path,
        monkeypatch,
        'files: ["customers_partner*"]\ndrift:\n  customers: {on_drift: fail}\n',
    )

    result = drop_and_run(defs, instance, landing, pipeline_env)

    assert not result.success
    check = drift_check(result)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    ((status, error, drift),) = query(pipeline_env, "SELECT status, error, drift FROM ingest.files")
    assert status == "failed" and error.startswith("SchemaDrift: customers_partner_1.csv:")
    assert "added loyalty_tier" in error and drift == DRIFT
    assert query(pipeline_env, "SELECT count(*) FROM commerce.customers") == [(0,)]


def test_columns_a_profile_lets_vary_do_not_fail_the_batch(
    defs, instance, landing, pipeline_env, tmp_path, monkeypatch
):
    partner_profile(
        tmp_path,
        monkeypatch,
        'files: ["customers_partner*"]\n'
        "drift:\n  customers: {on_drift: fail, may_vary: [loyalty_tier, email, e_mail]}\n",
    )

    result = drop_and_run(defs, instance, landing, pipeline_env)

    assert result.success and drift_check(result).passed
