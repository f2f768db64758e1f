"""`import-pipeline`: validate reports every sample and exits 0, fails a broken file with its
named error; profile-check shows what a profile maps a file to; template writes a CSV or
workbook that validates clean; drop copies or uploads a file."""

import socket
import subprocess
import sys
from pathlib import Path

import boto3
import fastexcel
import polars as pl
import pytest

from import_pipeline.cli import main
from import_pipeline.core.entities import ENTITIES
from import_pipeline.core.profiles import DEFAULT_PROFILES_DIR
from import_pipeline_tests.samples import marketplace
from import_pipeline_tests.support import SAMPLES

SAMPLE_PROFILES = {
    "shopify/orders_export_1__store_AP_pseudonymized.csv": "shopify_orders",
    "shopify/products_export_1__store_AP.csv": "shopify_products",
    "online_retail/online_retail_head_14k_CR.csv": "online_retail",
    "online_retail/online_retail_II_head98_bom.csv": "online_retail",
    "jaffle_shop/raw_customers.csv": "jaffle_customers",
    "jaffle_shop/raw_products.csv": "jaffle_products",
    "jaffle_shop/raw_orders.csv": "jaffle_orders",
    "jaffle_shop/raw_items.csv": "jaffle_items",
}


@pytest.mark.parametrize("sample", sorted(SAMPLE_PROFILES))
def test_validate_prints_the_report_of_every_sample_and_exits_0(sample, capsys):
    assert main(["validate", str(SAMPLES / sample)]) == 0
    out = capsys.readouterr().out
    assert f"profile: {SAMPLE_PROFILES[sample]}" in out
    assert "rows read: " in out and "ok: the file would load" in out


def test_validate_lists_rejects_by_rule_and_the_first_rejects(capsys):
    assert main(["validate", str(SAMPLES / "online_retail/online_retail_head_14k_CR.csv")]) == 0
    out = capsys.readouterr().out
    assert "row:field_count: 1" in out and "quantity:minimum" not in out
    assert "first rejects (of 1):" in out, "the cut-off last record is one reject, not padded"
    assert "line_items: skip_rows_without: 45" in out, "stock adjustments are skipped"


def test_validate_warns_of_skus_the_database_will_refuse(capsys):
    assert main(["validate", str(SAMPLES / "shopify/products_export_1__store_AP.csv")]) == 0
    assert "products sharing a SKU: 137" in capsys.readouterr().out


def test_validate_fails_a_broken_file_with_its_named_error(tmp_path, capsys):
    header = (SAMPLES / "shopify/products_export_1__store_AP.csv").read_bytes().split(b"\n")[0]
    broken = tmp_path / "products_export_cut.csv"
    broken.write_bytes(header + b"\n")
    assert main(["validate", str(broken)]) == 1
    err = capsys.readouterr().err
    assert "EmptyFile" in err and broken.name in err


def test_validate_fails_when_too_many_rows_are_rejected(tmp_path, capsys):
    path = tmp_path / "customers_bad.csv"
    path.write_text("customer_id,email\nC1,not-an-email\nC2,ok@example.com\n")
    assert main(["validate", str(path)]) == 1
    captured = capsys.readouterr()
    assert "email:format: 1" in captured.out and "TooManyRejects" in captured.err
    assert "this run" not in captured.err
    assert main(["validate", str(path), "--max-reject-rate", "0.5"]) == 0


def test_validate_uses_the_named_profile_from_a_profiles_directory(tmp_path, capsys):
    (tmp_path / "acme.yaml").write_text(
        "files: [nothing]\nentities:\n  customers:\n    fields:\n      customer_id: id\n"
    )
    data = tmp_path / "clients.csv"
    data.write_text("id,colour\n1,red\n")
    argv = ["validate", str(data), "--profile", "acme", "--profiles-dir", str(tmp_path)]
    assert main(argv) == 0
    assert "profile: acme" in capsys.readouterr().out


@pytest.mark.parametrize("entity", list(ENTITIES))
def test_a_template_validates_clean(entity, tmp_path, capsys):
    target = tmp_path / f"{entity}_template.csv"
    assert main(["template", entity, "--output", str(target)]) == 0
    header = target.read_text().splitlines()[0].split(",")
    assert header == [f.name for f in ENTITIES[entity].fields if not f.derived]
    assert main(["validate", str(target)]) == 0
    assert "rejected: 0 " in capsys.readouterr().out


@pytest.mark.parametrize("entity", list(ENTITIES))
def test_an_xlsx_template_validates_clean_with_its_example_row_as_text(entity, tmp_path, capsys):
    target = tmp_path / f"{entity}_template.xlsx"
    assert main(["template", entity, "--format", "xlsx", "--output", str(target)]) == 0
    sheet = fastexcel.read_excel(target).load_sheet(entity).to_polars()
    assert sheet.columns == [f.name for f in ENTITIES[entity].fields if not f.derived]
    assert sheet.dtypes == [pl.String] * sheet.width, "Excel must not turn IDs into numbers"
    assert main(["validate", str(target)]) == 0
    assert "rejected: 0 " in capsys.readouterr().out


def test_validate_fails_a_workbook_without_the_profiles_sheet(tmp_path, capsys):
    (tmp_path / "catalogue.yaml").write_text(
        "files: [catalogue*]\nread: {sheet: Products}\n"
        "entities:\n  products:\n    fields: {product_id: id, name: title}\n"
    )
    target = tmp_path / "catalogue.xlsx"
    assert main(["template", "products", "--format", "xlsx", "--output", str(target)]) == 0
    assert main(["validate", str(target), "--profiles-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "MissingSheet: catalogue.xlsx: it has no sheet named 'Products'" in err


def test_drop_copies_a_file_into_the_landing_folder(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    source = SAMPLES / "jaffle_shop/raw_products.csv"
    monkeypatch.setenv("IMPORT_LANDING_URL", str(landing))
    assert main(["drop", str(source)]) == 0
    assert [p.name for p in landing.iterdir()] == ["raw_products.csv"]
    assert (landing / "raw_products.csv").read_bytes() == source.read_bytes()


def test_drop_uploads_to_an_s3_landing_zone(tmp_path, monkeypatch):
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        for name, value in {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            monkeypatch.setenv(name, value)
        client = boto3.client("s3")
        client.create_bucket(Bucket="drops")
        source = SAMPLES / "jaffle_shop/raw_products.csv"
        assert main(["drop", str(source), "--landing", "s3://drops/in/", "--name", "p.csv"]) == 0
        body = client.get_object(Bucket="drops", Key="in/p.csv")["Body"].read()
        assert body == source.read_bytes()
    finally:
        server.stop()


def test_drop_refuses_a_landing_url_it_cannot_reach_by_name(tmp_path, capsys):
    source = SAMPLES / "jaffle_shop/raw_products.csv"
    assert main(["drop", str(source), "--landing", "gs://drops/in/"]) == 2
    error = capsys.readouterr().err
    assert "IMPORT_LANDING_URL=gs://drops/in/: `gs://` is not a supported" in error


def test_the_console_script_is_installed():
    script = Path(sys.executable).parent / "import-pipeline"
    done = subprocess.run([script, "template", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "ENTITY" in done.stdout.upper()


def test_drop_makes_the_folders_a_name_with_folders_needs(tmp_path, capsys):
    source = tmp_path / "customers.csv"
    source.write_text("customer_id\nC1\n")
    landing = tmp_path / "landing"
    assert main(["drop", str(source), "--landing", str(landing), "--name", "sub/dir/c.csv"]) == 0
    assert (landing / "sub" / "dir" / "c.csv").read_text() == "customer_id\nC1\n"
    assert not list(landing.rglob(".*.part"))


def test_template_writes_into_a_folder_that_does_not_exist_yet(tmp_path, capsys):
    target = tmp_path / "missing" / "dir" / "x.csv"
    assert main(["template", "customers", "--output", str(target)]) == 0
    assert target.read_text().startswith("customer_id,")


def test_validate_piped_into_a_reader_that_stops_ends_quietly(tmp_path):
    sample = SAMPLES / "online_retail/online_retail_head_14k_CR.csv"
    command = [sys.executable, "-m", "import_pipeline.cli", "validate", str(sample)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    _, err = process.communicate(timeout=120)
    assert b"Traceback" not in err and process.returncode == 0


def test_validate_names_the_profiles_there_are_when_one_is_unknown(tmp_path, capsys):
    path = tmp_path / "customers.csv"
    path.write_text("customer_id\nC1\n")
    assert main(["validate", str(path), "--profile", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no source profile named 'nope'" in err and "re-drop" not in err


def test_validate_counts_skipped_rows_and_lists_conflicting_versions(tmp_path, capsys):
    path = tmp_path / "customers.csv"
    path.write_text(
        "customer_id,email\nC1,a@example.com\n,\nC1,b@example.com\n"
        + "".join(f"C{i},c{i}@example.com\n" for i in range(2, 12))
    )
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "customers: blank: 1" in out
    assert "customers C1: row 1 dropped" in out and "customers C1: row 3 kept" in out


def test_profile_check_shows_mapped_rows_skipped_rows_and_lookup_misses(tmp_path, capsys):
    for name, text in marketplace.FILES.items():
        (tmp_path / name).write_text(text)
    marketplace.write_profiles(tmp_path / "profiles")
    argv = ["profile-check", "olist_products", str(tmp_path / "olist_products_dataset.csv")]
    table = str(tmp_path / "product_category_name_translation.csv")
    assert main([*argv, "--batch-file", table, "--profiles-dir", str(tmp_path / "profiles")]) == 0
    out = capsys.readouterr().out
    assert "products: 3 rows mapped" in out and "housewares" in out
    assert "lookup category_en: 1 miss(es), e.g. 'pc_gamer'" in out

    retail = str(SAMPLES / "online_retail/online_retail_head_14k_CR.csv")
    assert main(["profile-check", str(DEFAULT_PROFILES_DIR / "online_retail.yaml"), retail]) == 0
    out = capsys.readouterr().out
    assert "line_items: 14549 rows mapped" in out and "536365-1" in out
    assert "skips 45 row(s): skip_rows_without" in out
    assert "skipped rows (row numbers): 2407, 4348, 7189" in out
    assert "(rejects): 1, first at row 14595" in out


def test_profile_check_names_the_line_of_a_bad_profile(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text('files: ["x*"]\nentities:\n  products:\n    fields: {product_id: {uper: a}}\n')
    data = tmp_path / "x.csv"
    data.write_text("a\n1\n")
    assert main(["profile-check", str(bad), str(data)]) == 1
    assert "line 4: unknown key 'uper'" in capsys.readouterr().err
