"""The benchmark harness works end to end on a tiny drop: every loader gets a row in the
results table and import_pipeline loads exactly the rows the generator promised.
No timing assertions: this proves the harness, `make bench` measures."""

from pathlib import Path

import pytest

from bench.baselines import dlt_available
from bench.run import run_bench

pytestmark = pytest.mark.postgres

ORDERS = 10_000


def test_the_benchmark_runs_every_loader_and_loads_the_expected_rows(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("IMPORT_LANDING_URL", "IMPORT_STAGING_URL"):
        monkeypatch.setenv(name, "")  # the in-process pipeline sets them; restored after
    monkeypatch.setenv("DATABASE_URL", server_url)
    results = tmp_path / "RESULTS.md"
    bench = run_bench(
        [
            "--orders",
            str(ORDERS),
            "--seed-orders",
            "1000",
            "--work",
            str(tmp_path),
            "--results",
            str(results),
            "--in-process",
        ]
    )

    loaders = [row.loader for row in bench.rows]
    expected = ["raw COPY", "seed-style pandas+SQLAlchemy"]
    expected += ["dlt merge"] if dlt_available() else []
    expected += [f"import_pipeline ({p})" for p in ("fresh", "unchanged", "10% changed")]
    assert loaders == expected
    text = results.read_text()
    assert all(f"| {name} |" in text for name in expected)

    assert bench.drop.spec.orders == ORDERS
    assert bench.counts == {**bench.drop.expected, "held": 0}
    assert bench.drop.expected["orders"] == ORDERS
    assert all(row.rows == bench.drop.total_rows for row in bench.rows)
    unchanged = next(r for r in bench.rows if r.loader == "import_pipeline (unchanged)")
    assert f"unchanged {bench.drop.total_rows:,}" in "; ".join(unchanged.notes)
