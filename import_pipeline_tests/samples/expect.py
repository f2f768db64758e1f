"""Reading the raw sample files with plain polars, independently of the pipeline's parser,
so the tests' expected counts do not come from the code under test."""

from pathlib import Path

import polars as pl


def raw_csv(path: Path, **options) -> pl.DataFrame:
    """Every column as text, trimmed, blank as null."""
    frame = pl.read_csv(path, infer_schema=False, **options)
    return frame.with_columns(pl.all().str.strip_chars().replace("", None))


def succeeded(results: dict) -> None:
    failed = {name: r for name, r in results.items() if not r.success}
    assert not failed, {
        name: [e.message for e in r.all_events if e.is_step_failure] for name, r in failed.items()
    }
