"""Staging accounts for every row, and the reject threshold is judged per entity over the
rows that reached its rules, with a percentage never rounded onto the threshold."""

from datetime import UTC, datetime

import pytest

from import_pipeline.core.profiles import CANONICAL
from import_pipeline.core.reject_rate import too_many_rejects
from import_pipeline.core.report import percent
from import_pipeline.core.stage_local import stage_in_memory

LANDED = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rate", "threshold", "shown"),
    [
        (0.10001, 0.10, "10.001 %"),
        (0.11, 0.10, "11.0 %"),
        (0.1, 0.1, "10.0 %"),
        (1.0, 0.1, "100.0 %"),
    ],
)
def test_a_rate_is_shown_with_the_decimals_that_tell_it_from_the_threshold(rate, threshold, shown):
    assert percent(rate, threshold) == shown


def test_blank_rows_are_skipped_and_never_dilute_the_reject_rate():
    data = b"customer_id,email\n" + b",\n" * 1000 + b"C1,bad\nC2,bad\nC3,ok@example.com\n"
    with stage_in_memory([("customers_1.csv", data)], "b", LANDED, CANONICAL) as (staged, _):
        report = staged.entities["customers"].report
        assert report.skipped == {"blank": 1000}
        assert (report.rows_read, report.rejected, report.staged) == (1003, 2, 1)
        error = too_many_rejects(staged, 0.10)
    assert error is not None and "customers: 2 of 3 rows (66.7 %)" in str(error)


def test_every_row_read_is_staged_rejected_skipped_or_a_duplicate():
    data = b"customer_id,email\nC1,a@example.com\nC1,b@example.com\n,\nC2,bad\nC3,\n"
    with stage_in_memory([("customers_1.csv", data)], "b", LANDED, CANONICAL) as (staged, _):
        r = staged.entities["customers"].report
    assert r.rows_read == r.staged + r.rejected + r.rows_skipped + r.duplicates == 5
    assert (r.staged, r.rejected, r.rows_skipped, r.duplicates) == (2, 1, 1, 1)
