"""The small-files benchmark works end to end with a handful of files: `dagster dev` starts
on the dev instance, its sensor and run queue load every file, and the results name each
file's latency. No timing assertions: this proves the harness, `bench.small_files`
measures."""

from pathlib import Path

import pytest

from bench.small_files import run_small_files

pytestmark = pytest.mark.postgres


def test_the_small_files_benchmark_loads_every_file_through_the_daemon(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", server_url)
    results = tmp_path / "RESULTS-small.md"
    argv = ["--modes", "grouped", "--singles", "1", "--bursts", "5", "--timeout", "180"]
    argv += ["--work", str(tmp_path), "--results", str(results)]

    (measured,) = run_small_files(argv).modes

    assert [f.status for f in measured.singles] == ["succeeded"]
    (many,) = measured.bursts
    assert [f.status for f in many.files] == ["succeeded"] * 5
    assert many.runs < 5 and many.failed_runs == 0  # a tick's files share runs
    assert measured.loaded == 1 + 1 + 5  # the warm-up file, the single, the burst
    single = measured.singles[0]
    assert single.written < single.seen <= single.started < single.finished
    assert many.max_running <= 4  # dev/dagster.yaml's max_concurrent_runs
    assert measured.starts and all(s.process_s > 0 for s in measured.starts)
    text = results.read_text()
    assert "| customers_single000.csv |" in text
    assert "5 one-row files dropped at once" in text
