"""Profile features through sensor -> run -> Postgres: lookups counted in the batch's
metadata, partial rows keeping stored values, parents first for profile-mapped files."""

import pytest

from import_pipeline_tests.core.test_profile_lookups import PRODUCTS, PROFILE, TRANSLATION
from import_pipeline_tests.samples.conftest import Loader
from import_pipeline_tests.samples.expect import succeeded
from import_pipeline_tests.support import materialization, query


@pytest.fixture
def profiles(tmp_path, monkeypatch):
    folder = tmp_path / "profiles"
    folder.mkdir()
    monkeypatch.setenv("IMPORT_PROFILES_DIR", str(folder))
    return folder


@pytest.mark.postgres
def test_lookup_misses_are_in_the_batch_metadata(loader: Loader, profiles, tmp_path):
    (profiles / "categories.csv").write_bytes(TRANSLATION)
    (profiles / "marketplace_products.yaml").write_text(
        PROFILE.replace("{TABLE}", "{file: categories.csv}")
    )
    source = tmp_path / "products.csv"
    source.write_bytes(PRODUCTS)
    (result,) = loader.load((source, "olist_products_dataset.csv")).values()
    succeeded({"products": result})
    staged = materialization(result, "staged_batch")
    assert staged["lookup/category_en/misses"] == 2
    assert "`pc_gamer`" in staged["lookup_misses"]
    assert query(
        loader.database_url,
        "SELECT category, count(*) FROM commerce.products GROUP BY 1 ORDER BY 1",
    ) == [
        ("art", 1),
        ("baby", 1),
        ("housewares", 1),
        ("other", 3),
        ("perfumery", 1),
        ("sports_leisure", 1),
    ]
