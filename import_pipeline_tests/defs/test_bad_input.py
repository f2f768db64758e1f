"""Bad input never corrupts stored data: ragged CSV rows become rejects, through real runs."""

import json
import uuid

import dagster as dg
import polars as pl

from import_pipeline.definitions import defs as load_definitions
from import_pipeline.defs.in_process import evaluate, run, tick
from import_pipeline.defs.partitions import batches
from import_pipeline.defs.resources import LandingZone
from import_pipeline.defs.sensors import landing_sensor
from import_pipeline_tests.support import materialization, query

HEADER = "customer_id,email,first_name,last_name,phone,country,created_at,updated_at\n"


def customer(n: int, updated: str = "2024-05-01") -> str:
    return f"C{n:08},user{n:08}@example.com,Ada,Smith,+44 1,UK,2024-01-01,{updated}\n"


def drop_and_run(defs, instance, landing, url, name: str, text: str):
    (landing / name).write_text(text)
    (request,) = tick(instance, landing, url).run_requests
    return run(defs, instance, request)


def test_a_short_row_is_a_reject_and_never_nulls_out_a_stored_customer(
    defs, instance, landing, pipeline_env
):
    good = "".join(customer(n) for n in range(1, 11))
    first = drop_and_run(defs, instance, landing, pipeline_env, "customers_1.csv", HEADER + good)
    assert first.success
    short = "C00000005,user00000005@example.com,Ada\n"
    later = "".join(customer(n, "2024-06-01") for n in range(11, 21))
    result = drop_and_run(
        defs, instance, landing, pipeline_env, "customers_2.csv", HEADER + short + later
    )

    assert result.success
    stored = "SELECT last_name, phone, country, updated_at::date::text FROM commerce.customers"
    assert query(pipeline_env, stored + " WHERE customer_id = 'C00000005'") == [
        ("Smith", "+44 1", "UK", "2024-05-01")
    ]
    assert query(pipeline_env, "SELECT source_row, errors, raw, source FROM ingest.rejects") == [
        (
            1,
            ["row:field_count"],
            {"_line": short.strip(), "_problem": "expected 8 fields, got 3"},
            "customers_2.csv:1",
        )
    ]
    staged = materialization(result, "staged_batch")
    assert staged["rejected"] == 1
    rejects = pl.read_csv(staged["rejects_file"], infer_schema=False)
    assert rejects.select("_line", "_row", "_errors").row(0) == (
        short.strip(),
        "1",
        "row:field_count",
    )


def test_a_row_with_an_unquoted_comma_is_a_reject_and_stores_no_shifted_values(
    defs, instance, landing, pipeline_env
):
    header = "customer_id,first_name,last_name,country\n"
    good = "".join(f"C{n},Ada,Smith,UK\n" for n in range(1, 11))
    result = drop_and_run(
        defs,
        instance,
        landing,
        pipeline_env,
        "customers_1.csv",
        header + good + "X1,Smith, Jr.,John,UK\n",
    )

    assert result.success
    assert query(
        pipeline_env, "SELECT count(*) FROM commerce.customers WHERE country = 'John'"
    ) == [(0,)]
    assert query(pipeline_env, "SELECT count(*) FROM commerce.customers") == [(10,)]
    assert query(pipeline_env, "SELECT source_row, errors, raw->>'_line' FROM ingest.rejects") == [
        (11, ["row:field_count"], "X1,Smith, Jr.,John,UK")
    ]


def test_a_default_folder_or_a_link_out_of_the_zone_loads_nothing_through_the_sensor(
    defs, instance, landing, pipeline_env
):
    (landing / "customers_1.csv").write_text("customer_id,first_name\nC1,Root\n")
    (landing / "default").mkdir()
    (landing / "default" / "customers_1.csv").write_text("customer_id,first_name\nC1,Folder\n")
    (landing / "acme").mkdir()
    (landing / "acme" / "customers_passwd.csv").symlink_to("/etc/passwd")
    zone = LandingZone(url=str(landing), settle_seconds=0, tenant_from_path=True)

    (request,) = evaluate(landing_sensor, instance, zone, pipeline_env, None).run_requests

    assert run(defs, instance, request).success
    assert query(
        pipeline_env, "SELECT tenant, customer_id, first_name FROM commerce.customers"
    ) == [("default", "C1", "Root")]
    assert query(pipeline_env, "SELECT uri FROM ingest.files") == [(request.tags["import/uri"],)]


def test_a_seed_style_ndjson_key_that_is_not_a_uuid_is_a_reject_naming_the_rule(
    defs, instance, landing, pipeline_env
):
    ids = [str(uuid.UUID(int=n)) for n in range(1, 11)]
    rows = [{"customer_id": i, "first_name": "Ada"} for i in ids]
    rows.append({"customer_id": "not-a-uuid", "first_name": "Bad"})
    text = "".join(json.dumps(row) + "\n" for row in rows)

    result = drop_and_run(defs, instance, landing, pipeline_env, "customers_1.ndjson", text)

    assert result.success
    assert query(pipeline_env, "SELECT profile FROM ingest.files") == [("seed_ndjson",)]
    assert query(pipeline_env, "SELECT customer_id FROM commerce.customers ORDER BY 1") == [
        (i,) for i in ids
    ]
    assert query(pipeline_env, "SELECT errors, raw->>'customer_id' FROM ingest.rejects") == [
        (["customer_id:uuid"], "not-a-uuid")
    ]


def test_a_password_with_an_at_sign_never_reaches_a_runs_events(
    instance, monkeypatch, pipeline_env
):
    password = "pa55@w0rd"
    monkeypatch.setenv("DATABASE_URL", f"postgresql://app:{password}@127.0.0.1:1/db")
    instance.add_dynamic_partitions(batches.name, ["customers_1-0123456789ab"])

    result = run(
        load_definitions(), instance, dg.RunRequest(partition_key="customers_1-0123456789ab")
    )

    assert not result.success
    logged = " ".join(repr(entry) for entry in instance.all_logs(result.run_id))
    for piece in (password, "pa55", "w0rd"):
        assert piece not in logged
    assert "DatabaseUnavailable" in logged
