"""Lookups: a field mapped through a reference table (beside the profile, or a file of the
same batch) by key, a default for misses, and the misses counted with a few of their keys."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from import_pipeline.core.lookups import BadLookupTable
from import_pipeline.core.profile_yaml import ProfileError
from import_pipeline.core.profiles import profile_from_file
from import_pipeline.core.stage_local import stage_in_memory

# A marketplace's products as its dump writes them: Portuguese category names, two of
# which the translation table lacks, and one product without a category.
PRODUCTS = b"""\
product_id,product_category_name,product_name_lenght,product_photos_qty,product_weight_g
1e9e8ef04dbcff4541ed26657ea517e5,perfumaria,40,1,225
3aa071139cb16b67ca9e5dea641aaa2f,artes,44,1,1000
96bd76ec8810374ed1b65e291975717f,esporte_lazer,46,1,154
cef67bcfe19066a932b7673e239eb23d,bebes,27,1,371
9dc1a7de274444849c219cff195d0b71,utilidades_domesticas,37,4,625
41d3672d4792049fa1779bb35283ed13,portateis_cozinha_e_preparadores_de_alimentos,60,1,200
732bd381ad09e530fe0a5f457d81becb,pc_gamer,56,1,18350
2548af3e6e77a690cf3eb6368e9ab61e,,,,
"""
TRANSLATION = b"""\
product_category_name,product_category_name_english
beleza_saude,health_beauty
perfumaria,perfumery
artes,art
esporte_lazer,sports_leisure
bebes,baby
utilidades_domesticas,housewares
"""

PROFILE = """\
files: ["*products*.csv"]
lookups:
  category_en:
    column: product_category_name
    table: {TABLE}
    key: product_category_name
    value: product_category_name_english
    default: {constant: other}
entities:
  products:
    fields:
      product_id: product_id
      name: {concat: [{constant: "product "}, product_id]}
      category: category_en
"""
LANDED = datetime(2024, 5, 1, tzinfo=UTC)


def write(directory: Path, table: str) -> Path:
    path = directory / "marketplace_products.yaml"
    path.write_text(PROFILE.replace("{TABLE}", table))
    return path


def categories(rows) -> dict[str, str | None]:
    return dict(rows["products"].select("product_id", "category").iter_rows())


def test_a_table_beside_the_profile_maps_categories_and_counts_the_misses(tmp_path):
    (tmp_path / "categories.csv").write_bytes(TRANSLATION)
    profile = profile_from_file(write(tmp_path, "{file: categories.csv}"))
    files = [("products.csv", PRODUCTS)]
    with stage_in_memory(files, "b", LANDED, profile) as (staged, rows):
        mapped = categories(rows)
    assert mapped["1e9e8ef04dbcff4541ed26657ea517e5"] == "perfumery"
    assert mapped["9dc1a7de274444849c219cff195d0b71"] == "housewares"
    assert mapped["732bd381ad09e530fe0a5f457d81becb"] == "other"
    assert mapped["41d3672d4792049fa1779bb35283ed13"] == "other"
    # A blank key is no miss: it has nothing to look up, and gives the default.
    assert mapped["2548af3e6e77a690cf3eb6368e9ab61e"] == "other"
    assert staged.lookup_misses["category_en"] == (
        2,
        ("portateis_cozinha_e_preparadores_de_alimentos", "pc_gamer"),
    )
    assert staged.rejected == 0


def test_a_file_of_the_same_batch_is_the_table_and_is_not_loaded_as_rows(tmp_path):
    profile = profile_from_file(
        write(tmp_path, '{batch_file: "product_category_name_translation*.csv"}')
    )
    files = [
        ("product_category_name_translation.csv", TRANSLATION),
        ("olist_products_dataset.csv", PRODUCTS),
    ]
    with stage_in_memory(files, "b", LANDED, profile) as (staged, rows):
        mapped = categories(rows)
    assert mapped["96bd76ec8810374ed1b65e291975717f"] == "sports_leisure"
    assert staged.rows_read == 8
    assert staged.lookup_misses["category_en"].count == 2
    with (
        pytest.raises(BadLookupTable, match="the batch holds none"),
        stage_in_memory(files[1:], "b", LANDED, profile),
    ):
        pass


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ("{file: nowhere.csv}", "line 5: lookup: there is no nowhere.csv beside the profile"),
        ("{url: x}", "line 5: lookup: unknown key 'url'"),
        ("{file: categories.csv}", "categories.csv: it has no column(s) product_category_name"),
    ],
)
def test_a_bad_lookup_names_its_line(tmp_path, table, words):
    (tmp_path / "categories.csv").write_bytes(b"name,english\nartes,art\n")
    with pytest.raises(ProfileError, match=words.replace("(", r"\(").replace(")", r"\)")):
        profile_from_file(write(tmp_path, table))
