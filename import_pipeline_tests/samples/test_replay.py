"""The real rejects file of a real sample, corrected by hand and dropped back in, loads
like any file: only the corrected rows load, the rest are rejected again for what is still
wrong with them, and the ledger says which batch the replay corrects.

The shipped online_retail profile skips stock adjustments (negative quantities); this
partner's copy of it does not, so they are rejects a person corrects."""

import shutil
from pathlib import Path

import polars as pl
import pytest

from import_pipeline.core.profiles import DEFAULT_PROFILES_DIR
from import_pipeline_tests.samples.expect import succeeded
from import_pipeline_tests.samples.support import Loader
from import_pipeline_tests.support import SAMPLES, materialization, query

RETAIL = SAMPLES / "online_retail/online_retail_head_14k_CR.csv"

pytestmark = pytest.mark.postgres


def test_a_corrected_rejects_file_of_online_retail_loads_only_its_fixed_rows(
    loader: Loader, staging: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    profiles = shutil.copytree(DEFAULT_PROFILES_DIR, tmp_path / "profiles")
    strict = profiles / "online_retail.yaml"
    strict.write_text(strict.read_text().replace("skip_rows_without: [sale]", ""))
    monkeypatch.setenv("IMPORT_PROFILES_DIR", str(profiles))
    succeeded(loader.load((RETAIL, "online_retail_head_14k_CR.csv")))
    ((original,),) = query(loader.database_url, "SELECT partition_key FROM ingest.files")
    rejects_file = staging / original / "rejects.csv"
    rejects = pl.read_csv(rejects_file, infer_schema=False)
    negative = rejects.filter(pl.col("_errors") == "quantity:minimum")
    assert negative["quantity"].str.starts_with("'-").all()  # neutralised for spreadsheets
    # A person fixes the sign of three lines and sends the file back as it is otherwise.
    fixed = negative["line_item_id"].head(3).to_list()
    corrected = rejects.with_columns(
        pl.when(pl.col("line_item_id").is_in(fixed))
        .then(pl.col("quantity").str.strip_prefix("'-"))
        .otherwise(pl.col("quantity"))
        .alias("quantity")
    )
    dropped = tmp_path / "rejects_fixed.csv"
    corrected.write_csv(dropped)
    lines_before = loader.counts()["line_items"]

    (result,) = loader.load((dropped, "rejects_2024-06-02_fixed.csv")).values()

    succeeded({"replay": result})
    assert loader.counts()["line_items"] == lines_before + 3
    ((replay, corrects),) = query(
        loader.database_url,
        "SELECT partition_key, corrects FROM ingest.files WHERE partition_key <> %s",
        (original,),
    )
    assert corrects == original
    assert query(
        loader.database_url,
        "SELECT line_item_id FROM commerce.line_items WHERE _batch = %s ORDER BY 1",
        (replay,),
    ) == [(key,) for key in sorted(fixed)]
    # the quote is undone: the unfixed lines break the same rule again, not a cast rule;
    # the cut-off record nobody rewrote into its columns is rejected again too
    again = query(
        loader.database_url,
        "SELECT errors, count(*) FROM ingest.rejects WHERE partition_key = %s GROUP BY 1",
        (replay,),
    )
    assert sorted(again) == [
        (
            [
                "line_item_id:required",
                "order_id:required",
                "product_id:required",
                "quantity:required",
                "unit_price:required",
            ],
            1,
        ),
        (["quantity:minimum"], negative.height - 3),
    ]
    assert rejects.height == negative.height + 1
    staged = materialization(result, "staged_batch")
    assert staged["replay_of"] == original
    assert staged["line_items/read"] == rejects.height
