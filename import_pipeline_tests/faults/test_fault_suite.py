"""The fault suite (faults/) in its small configuration: each scenario ends with nothing
lost, duplicated or wrong against a clean load, and the ledger's final word as expected.
`make faults` runs the same scenarios at size and prints their figures."""

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from faults.hostile_run import Outcome
from faults.report import Figure
from faults.run import SMALL, run_suite

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def suite() -> Iterator[tuple[dict[str, Figure], list[Outcome]]]:
    """One run of the small suite for all its tests. Its folder is not pytest's tmp_path:
    a concurrent pytest session pruning old /tmp/pytest-of-<user> folders took the suite's
    data directory from under its restarted server."""
    with tempfile.TemporaryDirectory(prefix="faults-") as work:
        figures, outcomes = run_suite(SMALL, Path(work))
    yield {f.scenario.split(" ")[0]: f for f in figures}, outcomes


def held(figure: Figure) -> None:
    d = figure.difference
    assert (d.lost, d.duplicated, d.wrong) == (0, 0, 0), d.details
    assert figure.passed, figure.failures
    assert figure.trials > 0


def test_a_reader_with_a_lock_timeout_is_never_blocked_by_a_real_load(suite):
    held(suite[0]["a"])


def test_a_run_killed_at_a_random_moment_and_executed_again_ends_as_a_clean_load(suite):
    held(suite[0]["kill"])


def test_a_server_restarted_or_stopped_mid_chunk_ends_as_a_clean_load_once_re_executed(suite):
    held(suite[0]["Postgres"])


def test_two_overlapping_runs_on_shared_keys_end_as_a_clean_load(suite):
    held(suite[0]["two"])


def test_versions_landed_in_any_order_end_on_the_newest_version_of_each_key(suite):
    held(suite[0]["versions"])


def test_every_hostile_file_comes_to_its_expected_outcome_and_damages_nothing(suite):
    figure = suite[0]["hostile"]
    outcomes = suite[1]
    wrong = [f"{o.case.name}: {o.case.expect}, seen {o.seen}" for o in outcomes if not o.ok]
    assert wrong == []
    held(figure)
