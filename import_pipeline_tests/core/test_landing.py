"""Landed files -> batches (grouping, markers, tenants, bounded windows) and multi-file staging."""

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from import_pipeline.core.columns import SOURCE
from import_pipeline.core.errors import ManifestMismatch, UnreadableFile
from import_pipeline.core.landing import (
    FileRecord,
    Window,
    complete_window,
    is_listed,
    plan,
    settle_pause,
    settled,
)
from import_pipeline.core.manifest import parse_manifest
from import_pipeline.core.profiles import CANONICAL
from import_pipeline.core.stage_local import stage_in_memory
from import_pipeline_tests.support import LAYOUTS

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def record(key: str, version: str = "v1", minutes: int = 0) -> FileRecord:
    return FileRecord(f"s3://b/{key}", key, 10, T0 + timedelta(minutes=minutes), version)


def uri(key: str) -> str:
    return f"s3://b/{key}"


def test_a_top_level_file_is_a_batch_of_its_own():
    (batch,) = plan([record("customers_1.csv")], False, uri)
    assert (batch.key, batch.tenant, batch.is_folder) == ("customers_1.csv", "default", False)
    assert batch.partition_key.startswith("customers_1.csv-")


def test_a_folder_without_a_marker_waits():
    assert plan([record("drop/customers.csv"), record("drop/orders.csv")], False, uri) == []


@pytest.mark.parametrize("marker", ["_SUCCESS", "manifest.json"])
def test_a_marked_folder_is_one_batch_of_its_data_files(marker):
    files = [record("drop/customers.csv"), record("drop/sub/orders.csv"), record(f"drop/{marker}")]
    (batch,) = plan(files, False, uri)
    assert batch.uri == "s3://b/drop/" and batch.is_folder
    assert [m.key for m in batch.members] == ["drop/customers.csv", "drop/sub/orders.csv"]


def test_any_changed_member_changes_the_folder_batch_key():
    files = [record("drop/customers.csv"), record("drop/_SUCCESS")]
    (before,) = plan(files, False, uri)
    (after,) = plan([record("drop/customers.csv", "v2"), record("drop/_SUCCESS")], False, uri)
    assert before.partition_key != after.partition_key


def test_the_first_folder_names_the_tenant_when_configured():
    files = [record("acme/customers.csv"), record("acme/drop/a.csv"), record("acme/drop/_SUCCESS")]
    batches = plan(files, True, uri)
    assert [(b.tenant, b.key) for b in batches] == [
        ("acme", "acme/customers.csv"),
        ("acme", "acme/drop/"),
    ]


def test_the_same_file_under_two_tenants_is_two_batches():
    keys = {b.partition_key for b in plan([record("a/x.csv"), record("b/x.csv")], True, uri)}
    assert len(keys) == 2


@pytest.mark.parametrize("layout", LAYOUTS)
def test_markers_and_manifests_never_become_batches_or_members_in_any_layout(layout):
    tenants, data, markers, expected = LAYOUTS[layout]
    batches = plan([record(k) for k in data + markers], tenants, uri)
    assert [b.key for b in batches] == expected
    assert sorted(m.key for b in batches for m in b.members) == sorted(data)


def test_hidden_and_temp_files_are_not_listed_but_markers_are():
    assert [is_listed(k) for k in ("a.csv", ".a.csv", "a.csv.part", "d/_SUCCESS", ".d/a.csv")] == [
        True,
        False,
        False,
        True,
        False,
    ]


def test_a_window_that_stops_inside_a_folder_leaves_the_folder_for_the_next():
    keys = ["a.csv", "drop/_SUCCESS", "drop/x.csv"]
    records, after, skipped = complete_window(Window([record(k) for k in keys], keys, False), False)
    assert ([r.key for r in records], after, skipped) == (["a.csv"], "a.csv", "")


def test_a_folder_bigger_than_a_window_is_skipped_and_named():
    keys = ["drop/a.csv", "drop/b.csv"]
    records, after, skipped = complete_window(Window([record(k) for k in keys], keys, False), False)
    assert (records, after, skipped) == ([], "drop/b.csv", "drop/")


def test_a_window_that_reached_the_end_wraps_around():
    keys = ["a.csv", "drop/x.csv"]
    records, after, _ = complete_window(Window([record(k) for k in keys], keys, True), False)
    assert (len(records), after) == (2, "")


def test_a_batch_still_changing_waits_until_it_held_still():
    (batch,) = plan([record("a.csv", minutes=0)], False, uri)
    now = T0 + timedelta(seconds=5)
    ready, waiting = settled([batch], {}, now, 10)
    assert (ready, waiting) == ([], {batch.uri: batch.version})
    assert settled([batch], waiting, now, 10) == ([batch], {})


def test_a_batch_quiet_for_the_settle_time_is_ready_at_first_sight():
    (batch,) = plan([record("a.csv", minutes=0)], False, uri)
    assert settled([batch], {}, T0 + timedelta(seconds=3), 3) == ([batch], {})


def test_a_manifest_names_a_missing_file_and_a_wrong_row_count():
    manifest = parse_manifest(b'{"files": [{"name": "a.csv", "rows": 2}, {"name": "b.csv"}]}')
    with pytest.raises(ManifestMismatch, match="b.csv: manifest.json lists it"):
        manifest.check_files(["a.csv"])
    with pytest.raises(
        ManifestMismatch, match="a.csv: manifest.json says 2 rows but the file has 3"
    ):
        manifest.check_rows("a.csv", 3)
    parse_manifest(b"{}").check_files(["anything.csv"])


@pytest.mark.parametrize(
    "text",
    [b'{"files": [{"rows": 2}]}', b'{"files": [{"name": "a.csv", "profile": "../etc/x"}]}'],
)
def test_a_broken_manifest_is_unreadable(text):
    with pytest.raises(UnreadableFile, match="manifest.json"):
        parse_manifest(text)


def test_a_manifest_may_name_each_file_s_profile():
    manifest = parse_manifest(
        b'{"files": [{"name": "clientes.csv", "profile": "olist_customers"}, {"name": "b.csv"}]}'
    )
    assert manifest.profiles == {"clientes.csv": "olist_customers"}


def test_files_of_one_entity_are_deduped_together_and_rejects_say_which_file():
    first = b"customer_id,email,updated_at\nC1,a@x.io,2024-01-01\nC2,bad,2024-01-01\n"
    second = b"customer_id,email,updated_at\nC1,new@x.io,2024-02-01\nC3,bad,2024-01-01\n"
    files = [("customers_1.csv", first), ("customers_2.csv", second)]
    with stage_in_memory(files, "drop", T0, CANONICAL) as (staged, rows):
        rejects = staged.rejects().select("_row", SOURCE).collect()
    assert staged.rows_read == 4
    assert rows["customers"].select("customer_id", "email").rows() == [("C1", "new@x.io")]
    assert staged.entities["customers"].report.duplicates == 1
    assert rejects.rows() == [(2, "customers_1.csv:2"), (4, "customers_2.csv:2")]


def test_a_folder_can_feed_every_entity_at_once():
    files = [("customers.csv", b"customer_id\nC1\n"), ("products.csv", b"product_id,name\nP1,T\n")]
    with stage_in_memory(files, "drop", T0, CANONICAL) as (staged, rows):
        pass
    assert {e: part.row_count for e, part in staged.entities.items()} == {
        "customers": 1,
        "products": 1,
        "orders": 0,
        "line_items": 0,
    }
    assert rows["orders"].schema["updated_at"] == pl.Datetime("us", "UTC")


def test_a_tick_pauses_until_the_youngest_waiting_batch_is_settle_old_and_no_longer():
    old, young = plan([record("a.csv", minutes=0), record("b.csv", minutes=0)], False, uri)
    now = T0 + timedelta(seconds=1)
    waiting = {old.uri: old.version, young.uri: young.version}
    assert settle_pause([old, young], waiting, now, 3) == 2.0
    assert settle_pause([old, young], {}, now, 3) == 0.0
    assert settle_pause([old], waiting, T0 - timedelta(seconds=60), 3) == 3.0  # mtime ahead
