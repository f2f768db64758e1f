"""A new source is onboarded by writing only a YAML profile: a semicolon-separated German
export with decimal commas and local times loads through sensor -> run, with the profile
recorded in the ledger and the run's tags."""

import pytest

from import_pipeline_tests.samples.expect import succeeded
from import_pipeline_tests.samples.support import Loader
from import_pipeline_tests.support import query

PROFILE = """\
description: ACME's nightly order export (semicolons, decimal commas, Berlin time).
files: ["acme_auftraege_*.txt"]
max_reject_rate: 0.5  # small test file: one unknown status is a third of it
read:
  delimiter: ";"
  encoding: cp1252
  timestamp_formats: ["%d.%m.%Y %H:%M"]
  time_zone: Europe/Berlin
  decimal_comma: true
entities:
  customers:
    one_row_per: [Kunde]
    fields:
      customer_id: {template: "ACME-{Kunde}"}
      last_name: Kundenname
    attributes: []
  orders:
    fields:
      order_id: Auftrag
      customer_id: {template: "ACME-{Kunde}"}
      status:
        map: {column: Status, values: {bezahlt: paid, storniert: cancelled}, others: "null"}
      currency: {constant: EUR}
      total: Summe
      ordered_at: Datum
"""

EXPORT = (
    "Auftrag;Kunde;Kundenname;Status;Summe;Datum;Filiale\n"
    "A-1;17;Müller;bezahlt;1.234,50;01.03.2024 09:15;Köln\n"
    "A-2;17;Müller;storniert;0,99;31.03.2024 01:30;Köln\n"
    "A-3;18;Weiß;unbekannt;5,00;01.04.2024 12:00;Bonn\n"
)

UNMAPPED = {"Filiale": "Köln", "Kundenname": "Müller"}
"""Columns the orders do not map stay in their attributes."""


@pytest.mark.postgres
def test_a_new_source_loads_from_nothing_but_a_yaml_profile(loader: Loader, tmp_path, monkeypatch):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "acme_orders.yaml").write_text(PROFILE)
    monkeypatch.setenv("IMPORT_PROFILES_DIR", str(profiles))
    source = tmp_path / "export.txt"
    source.write_bytes(EXPORT.encode("cp1252"))

    (result,) = loader.load((source, "acme_auftraege_2024-04.txt")).values()
    succeeded({"acme": result})

    assert result.dagster_run.tags["import/profile"] == "acme_orders"
    assert query(loader.database_url, "SELECT profile FROM ingest.files") == [("acme_orders",)]
    assert query(
        loader.database_url,
        "SELECT order_id, customer_id, status, total::text, currency,"
        " to_char(ordered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), attributes"
        " FROM commerce.orders ORDER BY 1",
    ) == [
        ("A-1", "ACME-17", "paid", "1234.5000", "EUR", "2024-03-01 08:15", UNMAPPED),
        ("A-2", "ACME-17", "cancelled", "0.9900", "EUR", "2024-03-31 00:30", UNMAPPED),
    ]
    assert query(
        loader.database_url, "SELECT customer_id, last_name FROM commerce.customers ORDER BY 1"
    ) == [("ACME-17", "Müller"), ("ACME-18", "Weiß")]
    assert query(loader.database_url, "SELECT errors FROM ingest.rejects") == [
        (["status:required"],)
    ]
