"""A product's quality score (0-100): how complete its listing is, so weak listings can be
found and fixed at the source.

The weights are the product-import seed's (issue 23): basic info 30, barcode 20, images
20, attributes 30.

- basic info, 30: name, category and price (10 each);
- barcode, 20: a barcode (valid rows only reach the score, so a valid GTIN);
- images, 20: any non-blank attribute whose name mentions an image (`Image Src`, `image`);
- attributes, 30: 3 for each of SKU, brand, a description and every other non-blank
  attribute the source sent, at most 10 counted.

"Description" is any attribute whose name contains `desc` or `body` (Shopify's
`Body (HTML)`). Computed on the sanitised source text of valid rows, as one expression.
"""

import polars as pl

from import_pipeline.core.entities import Field
from import_pipeline.core.rules import sanitised

QUALITY_FIELD = "quality_score"
WEAK_BELOW = 50
"""Products scoring below this are counted as weak listings in the products metadata."""

_DESCRIPTION_WORDS = ("desc", "body")
_MAX_COUNTED_ATTRIBUTES = 10


def quality_score(extras: list[str]) -> pl.Expr:
    """The score of each row, from the product's fields and its extra source columns."""
    images = [c for c in extras if "image" in c.lower()]
    descriptions = [c for c in extras if any(w in c.lower() for w in _DESCRIPTION_WORDS)]
    others = [c for c in extras if c not in images and c not in descriptions]
    attributes = (
        _present("sku") + _present("brand") + _any_present(descriptions) + _count_present(others)
    )
    score = (
        _present("name") * 10
        + _present("category") * 10
        + _present("price") * 10
        + _present("barcode") * 20
        + _any_present(images) * 20
        + attributes.clip(upper_bound=_MAX_COUNTED_ATTRIBUTES) * 3
    )
    return score.cast(pl.Int64)


def derived_value(field: Field, extras: list[str]) -> pl.Expr:
    """The value of a field the pipeline computes itself (see `Field.derived`)."""
    if field.name == QUALITY_FIELD:
        return quality_score(extras)
    raise ValueError(f"no derivation for the derived field {field.name!r}")


def _present(name: str) -> pl.Expr:
    return sanitised(name).is_not_null().cast(pl.Int64)


def _any_present(names: list[str]) -> pl.Expr:
    if not names:
        return pl.lit(0, pl.Int64)
    return pl.any_horizontal(sanitised(c).is_not_null() for c in names).cast(pl.Int64)


def _count_present(names: list[str]) -> pl.Expr:
    if not names:
        return pl.lit(0, pl.Int64)
    return pl.sum_horizontal(sanitised(c).is_not_null().cast(pl.Int64) for c in names)


def quality_summary(scores: pl.Series) -> dict[str, int | float]:
    """Mean, minimum and number of weak listings among a batch's products (none if empty)."""
    scores = scores.drop_nulls()
    if scores.len() == 0:
        return {}
    return {
        "quality_mean": round(float(scores.mean()), 1),  # type: ignore[arg-type]
        "quality_min": int(scores.min()),  # type: ignore[arg-type]
        "quality_below_50": int((scores < WEAK_BELOW).sum()),
    }
