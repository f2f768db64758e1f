"""The rejects CSV is safe to open in a spreadsheet and says why each row was rejected."""

import io

import polars as pl

from import_pipeline.core.rejects import rejects_csv


def test_formula_like_cells_are_neutralised_and_errors_joined():
    rejects = pl.DataFrame(
        {
            "_row": [3, 7],
            "customer_id": ['=HYPERLINK("http://x")', "C7"],
            "email": ["+1 555", "@sum(A1)"],
            "note": ["-2", "\tcmd"],
            "_errors": [["customer_id:max_length"], ["email:format", "note:x"]],
        }
    )
    text = rejects_csv(rejects)
    back = pl.read_csv(io.BytesIO(text), infer_schema=False)
    assert back.columns == ["customer_id", "email", "note", "_row", "_errors"]
    assert back.row(0) == (
        '\'=HYPERLINK("http://x")',
        "'+1 555",
        "'-2",
        "3",
        "customer_id:max_length",
    )
    assert back.row(1) == ("C7", "'@sum(A1)", "'\tcmd", "7", "email:format; note:x")
