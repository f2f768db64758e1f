"""Dedupe: one row per key, the newest version wins, ties go to the later row."""

from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from import_pipeline.core.dedupe import dedupe
from import_pipeline.core.entities import CUSTOMERS

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def rows(entries: list[tuple[str, int, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_row": list(range(1, len(entries) + 1)),
            "customer_id": [k for k, _, _ in entries],
            "first_name": [v for _, _, v in entries],
            "updated_at": [T0 + timedelta(hours=h) for _, h, _ in entries],
        }
    )


def test_the_newest_version_wins_and_ties_go_to_the_later_row():
    result = dedupe(
        rows([("A", 2, "new"), ("A", 1, "old"), ("B", 1, "first"), ("B", 1, "second")]), CUSTOMERS
    )
    assert result.rows.select("customer_id", "first_name").rows() == [("A", "new"), ("B", "second")]
    assert (result.duplicates, result.conflicting_keys) == (2, 2)


def test_repeated_identical_lines_are_duplicates_but_not_conflicts():
    result = dedupe(rows([("A", 1, "x"), ("A", 1, "x")]), CUSTOMERS)
    assert (result.duplicates, result.conflicting_keys) == (1, 0)


@given(
    st.lists(
        st.tuples(st.sampled_from("ABCDE"), st.integers(0, 50), st.text(max_size=3)),
        min_size=1,
        max_size=40,
    )
)
def test_for_any_order_of_versions_the_newest_of_each_key_survives(entries):
    result = dedupe(rows(entries), CUSTOMERS)
    newest: dict[str, tuple[int, int, str]] = {}
    for position, (key, hour, value) in enumerate(entries):
        if key not in newest or (hour, position) >= newest[key][:2]:
            newest[key] = (hour, position, value)
    assert result.rows.select("customer_id", "first_name").rows() == [
        (key, newest[key][2]) for key in sorted(newest)
    ]


@given(
    st.lists(
        st.tuples(st.sampled_from(["A", "B", "C", None]), st.integers(0, 3), st.sampled_from("xy")),
        min_size=1,
        max_size=40,
    )
)
def test_for_any_rows_it_counts_dropped_rows_and_keys_whose_versions_differ(entries):
    result = dedupe(rows(entries), CUSTOMERS)
    versions: dict[str | None, set[tuple[int, str]]] = {}
    for key, hour, value in entries:
        versions.setdefault(key, set()).add((hour, value))
    assert result.rows.height == len(versions)
    assert result.duplicates == len(entries) - len(versions)
    assert result.conflicting_keys == sum(len(v) > 1 for v in versions.values())
