"""The upsert: newer wins across files, unchanged rows are left alone, constraint failures
are isolated, interrupted loads converge, overlapping loads do not deadlock."""

import threading
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from import_pipeline.core.entities import PRODUCTS
from import_pipeline.core.report import LoadCounts
from import_pipeline.db import upsert
from import_pipeline.db.connect import connected
from import_pipeline.db.loader import load_chunks
from import_pipeline_tests.db.support import load, staged_rows, table


def customers(version: str, names: dict[str, str]) -> list[dict]:
    return [{"customer_id": k, "first_name": v, "updated_at": version} for k, v in names.items()]


def test_loading_v2_then_v1_leaves_v2(conn):
    v2 = load(conn, "customers", customers("2024-02-01", {"C1": "new", "C2": "new"}))
    v1 = load(conn, "customers", customers("2024-01-01", {"C1": "old", "C2": "old", "C3": "old"}))
    assert (v2.inserted, v1.inserted, v1.stale, v1.updated) == (2, 1, 2, 0)
    assert table(conn, "SELECT customer_id, first_name FROM commerce.customers ORDER BY 1") == [
        ("C1", "new"),
        ("C2", "new"),
        ("C3", "old"),
    ]


def test_the_same_file_twice_changes_nothing_the_second_time(conn):
    rows = customers("2024-02-01", {"C1": "a", "C2": "b"})
    load(conn, "customers", rows)
    before = table(conn, "SELECT *, xmin::text FROM commerce.customers ORDER BY 2")
    again = load(conn, "customers", rows, batch="b2")
    assert again == LoadCounts(unchanged=2)
    assert table(conn, "SELECT *, xmin::text FROM commerce.customers ORDER BY 2") == before


def test_a_changed_row_is_updated_and_counted_once(conn):
    load(conn, "customers", customers("2024-02-01", {"C1": "a", "C2": "b"}))
    counts = load(conn, "customers", customers("2024-02-02", {"C1": "a", "C2": "changed"}))
    assert (counts.updated, counts.unchanged) == (1, 1)


def test_same_values_with_a_newer_version_still_beat_a_later_older_file(conn):
    load(conn, "customers", customers("2024-01-01", {"C1": "A"}))
    assert load(conn, "customers", customers("2024-03-01", {"C1": "A"})) == LoadCounts(unchanged=1)
    assert load(conn, "customers", customers("2024-02-01", {"C1": "B"})).stale == 1
    assert table(conn, "SELECT first_name FROM commerce.customers") == [("A",)]


def test_a_constraint_violation_validation_missed_is_isolated_and_the_rest_loads(conn):
    rows = [{"product_id": f"P{i}", "name": "n", "sku": f"S{i}"} for i in range(10)]
    rows[6]["sku"] = "S2"  # a second product with SKU S2: only the database can tell
    counts, rejects = load_chunks(conn, PRODUCTS, [staged_rows("products", rows)], "default")
    assert (counts.inserted, counts.rejected) == (9, 1)
    assert [(r.row["product_id"], r.error) for r in rejects] == [("P6", "db:products_sku_unique")]


def test_a_run_killed_after_its_first_chunk_converges_when_executed_again(conn):
    rows = customers("2024-02-01", {f"C{i:03}": f"n{i}" for i in range(50)})
    with conn, conn.cursor() as cur:  # a crash half-way: any error that is not a constraint
        cur.execute(
            "CREATE FUNCTION crash() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'killed'; END $$;"
            "CREATE TRIGGER crash BEFORE INSERT ON commerce.customers FOR EACH ROW"
            " WHEN (NEW.customer_id = 'C030') EXECUTE FUNCTION crash()"
        )
    with pytest.raises(psycopg2.errors.RaiseException):
        load(conn, "customers", rows, chunk_rows=20)
    assert table(conn, "SELECT count(*) FROM commerce.customers") == [(20,)]
    with conn, conn.cursor() as cur:
        cur.execute("DROP TRIGGER crash ON commerce.customers")
    resumed = load(conn, "customers", rows, chunk_rows=20)
    assert (resumed.inserted, resumed.unchanged) == (30, 20)
    state = table(
        conn, "SELECT customer_id, first_name, updated_at FROM commerce.customers ORDER BY 1"
    )
    assert state == [(f"C{i:03}", f"n{i}", datetime(2024, 2, 1, tzinfo=UTC)) for i in range(50)]


def test_two_overlapping_loads_on_the_same_keys_both_finish_and_newer_wins(conn, database_url):
    keys = {f"C{i:04}": "x" for i in range(3000)}
    errors: list[BaseException] = []

    def worker(version: str, name: str) -> None:
        try:
            with connected(database_url) as own:
                load(
                    own,
                    "customers",
                    customers(version, dict.fromkeys(keys, name)),
                    batch=name,
                    chunk_rows=500,
                )
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=("2024-01-01", "older")),
        threading.Thread(target=worker, args=("2024-02-01", "newer")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert table(conn, "SELECT first_name, count(*) FROM commerce.customers GROUP BY 1") == [
        ("newer", 3000)
    ]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["K1", "K2", "K3"]), st.text("abc", min_size=1, max_size=2), min_size=1
        ),
        min_size=1,
        max_size=5,
    ),
    st.randoms(use_true_random=False),
)
def test_for_any_order_of_files_the_table_holds_the_newest_version_of_each_key(conn, files, rnd):
    with conn, conn.cursor() as cur:
        cur.execute("TRUNCATE commerce.customers CASCADE")
    versions = [
        (datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=i), names)
        for i, names in enumerate(files)
    ]
    newest: dict[str, str] = {}
    for _, names in versions:
        newest.update(names)
    order = versions[:]
    rnd.shuffle(order)
    for version, names in order:
        load(conn, "customers", customers(version.isoformat(), names))
    assert dict(table(conn, "SELECT customer_id, first_name FROM commerce.customers")) == newest


def test_chunks_loaded_over_several_connections_end_as_over_one(conn, database_url):
    """Side-by-side chunks (a second core for the FK checks) change nothing but speed:
    same counts, same rows, same isolated database rejects."""
    names = {f"P{i:04}": f"tea {i}" for i in range(600)}
    rows = [
        {"product_id": k, "name": v, "sku": f"S{k}", "updated_at": "2024-01-01"}
        for k, v in names.items()
    ]
    rows[300]["sku"] = rows[10]["sku"]
    frame = staged_rows("products", rows)
    chunks = [frame[i : i + 50] for i in range(0, frame.height, 50)]
    progress: list[int] = []
    with connected(database_url) as second, connected(database_url) as third:
        counts, rejects = load_chunks(
            conn, PRODUCTS, chunks, "default", progress.append, more_connections=[second, third]
        )
    assert (counts.inserted, counts.rejected, sum(progress)) == (599, 1, 600)
    assert [r.error for r in rejects] == ["db:products_sku_unique"]
    stored = table(conn, "SELECT product_id, name FROM commerce.products ORDER BY 1")
    assert stored == sorted((k, v) for k, v in names.items() if k != "P0300")
    again = [frame[i : i + 50] for i in range(0, frame.height, 50)]
    with connected(database_url) as second:
        repeated, _ = load_chunks(conn, PRODUCTS, again, "default", more_connections=[second])
    assert (repeated.unchanged, repeated.rejected) == (599, 1)


def test_a_reload_settles_known_rows_by_fingerprint_and_writes_only_the_rest(conn):
    """One chunk with every case: unchanged, newer version of the same values, changed,
    stale and new rows; the unchanged ones never travel in full."""
    load(conn, "customers", customers("2024-02-01", {"C1": "a", "C2": "b", "C3": "c", "C4": "d"}))
    rows = [
        *customers("2024-02-01", {"C1": "a"}),
        *customers("2024-03-01", {"C2": "b", "C3": "changed"}),
        *customers("2024-01-01", {"C4": "old"}),
        *customers("2024-03-01", {"C5": "new"}),
    ]
    counts = load(conn, "customers", rows, batch="b2")
    assert (counts.unchanged, counts.updated, counts.stale, counts.inserted) == (2, 1, 1, 1)
    assert table(
        conn,
        "SELECT customer_id, first_name, updated_at::date::text, _batch"
        " FROM commerce.customers ORDER BY 1",
    ) == [
        ("C1", "a", "2024-02-01", "b1"),
        ("C2", "b", "2024-03-01", "b2"),
        ("C3", "changed", "2024-03-01", "b2"),
        ("C4", "d", "2024-02-01", "b1"),
        ("C5", "new", "2024-03-01", "b2"),
    ]


def test_a_row_stored_without_a_fingerprint_gets_one_when_found_unchanged(conn):
    load(conn, "customers", customers("2024-02-01", {"C1": "a"}))
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE commerce.customers SET _fingerprint = NULL")
    again = load(conn, "customers", customers("2024-02-01", {"C1": "a"}), batch="b2")
    assert (again.unchanged, again.updated) == (1, 0)
    assert table(conn, "SELECT _fingerprint IS NOT NULL, _batch FROM commerce.customers") == [
        (True, "b1")
    ]


def test_an_unchanged_reload_is_told_from_its_key_ranges_summary_alone(conn, monkeypatch):
    rows = customers("2024-02-01", {f"C{i}": f"n{i}" for i in range(10)})
    load(conn, "customers", rows)
    before = table(conn, "SELECT *, xmin::text FROM commerce.customers ORDER BY 2")

    def not_needed(*args, **kwargs):
        raise AssertionError("an unchanged chunk reached the row-by-row comparison")

    monkeypatch.setattr(upsert, "skip_known", not_needed)
    assert load(conn, "customers", rows, batch="b2", chunk_rows=4) == LoadCounts(unchanged=10)
    assert table(conn, "SELECT *, xmin::text FROM commerce.customers ORDER BY 2") == before


def test_versions_moved_between_rows_are_not_taken_for_an_unchanged_range(conn):
    """Same keys, same values, the same versions in sum: only the weighting of each version
    by its row's fingerprint tells that C1 became newer and C2 older."""
    load(
        conn,
        "customers",
        [*customers("2024-02-01", {"C1": "a"}), *customers("2024-03-01", {"C2": "b"})],
    )
    moved = [*customers("2024-03-01", {"C1": "a"}), *customers("2024-02-01", {"C2": "b"})]
    counts = load(conn, "customers", moved, batch="b2")
    assert (counts.unchanged, counts.stale) == (1, 1)
    assert table(
        conn, "SELECT customer_id, updated_at::date::text FROM commerce.customers ORDER BY 1"
    ) == [
        ("C1", "2024-03-01"),
        ("C2", "2024-03-01"),
    ]


def test_a_key_range_that_stores_rows_the_chunk_lacks_is_compared_row_by_row(conn):
    load(conn, "customers", customers("2024-02-01", {"C1": "a", "C2": "b", "C3": "c"}))
    again = load(conn, "customers", customers("2024-02-01", {"C1": "a", "C3": "c"}), batch="b2")
    assert again == LoadCounts(unchanged=2)
    assert table(conn, "SELECT count(*) FROM commerce.customers") == [(3,)]


def test_a_newer_version_is_written_even_when_its_fingerprint_bits_weigh_nothing(conn, monkeypatch):
    """With no fingerprint bits to weigh by (1 row in 2^30 has none), a version still
    counts once: the same values with a newer version must still be written."""
    monkeypatch.setattr(upsert, "WEIGHT_MASK", 0)
    load(conn, "customers", customers("2024-01-01", {"C1": "A"}))
    assert load(conn, "customers", customers("2024-03-01", {"C1": "A"})) == LoadCounts(unchanged=1)
    assert table(conn, "SELECT updated_at::date::text FROM commerce.customers") == [("2024-03-01",)]
