"""Bookkeeping columns the pipeline adds beside a file's own columns, all named here once.

A source column named like one of `BOOKKEEPING` would be mistaken for ours (a row number
taken from the file, a reject's errors overwritten), so reading refuses such a file by name.
"""

from import_pipeline.core.errors import ReservedColumns

ROW = "_row"
"""Source row number: 1 for the first data record (header not counted)."""

ERRORS = "_errors"
"""In a rejects frame: the list of `field:rule` labels a row broke."""

SOURCE = "_source"
"""In a rejects frame: `<file>:<row in that file>`, so a multi-file batch's reject is found."""

LINE = "_line"
"""In a rejects frame: the raw text of a record that could not be split into the header's
fields (never padded or cut, so the data engineer sees exactly what arrived)."""

PROBLEM = "_problem"
"""In a rejects frame: what was wrong with such a record (`expected 8 fields, got 3`), or
with a row the database refused (`barcode 4006381333931 is held by products P1`)."""

BOOKKEEPING = (ROW, ERRORS, SOURCE, LINE, PROBLEM)

ATTRIBUTES = "attributes"
"""A valid row's source columns that are no field of its entity, kept as JSON."""

BATCH = "_batch"
"""The partition key of the batch that loaded a stored row (the load adds it to a chunk)."""

FINGERPRINT = "_fingerprint"
"""A 64-bit hash of a stored row's key and values (see `db.chunk.fingerprint`)."""

TENANT = "tenant"
"""The tenant a stored row belongs to: the first column of every key in the database."""

REPLAYED = "_replayed"
"""Prefix the bookkeeping columns of a replayed rejects file are read under (`_replayed_row`
...), so they never meet the columns the pipeline adds to what it reads."""


def is_rejects_header(columns: list[str]) -> bool:
    """A header the pipeline's own rejects CSV has: `_row` and `_errors` beside the rest."""
    return ROW in columns and ERRORS in columns


def replayed_or_refused(columns: list[str], file_name: str) -> list[str]:
    """The header of a rejects file dropped back in, its bookkeeping columns renamed under
    `REPLAYED`; any other header as it is, unless it uses a bookkeeping name."""
    if is_rejects_header(columns):
        return [REPLAYED + c if c in BOOKKEEPING else c for c in columns]
    refuse_reserved(columns, file_name)
    return columns


def refuse_reserved(columns: list[str], file_name: str) -> None:
    """Raise `ReservedColumns` if a source column is named like a bookkeeping column."""
    reserved = [c for c in columns if c in BOOKKEEPING]
    if reserved:
        raise ReservedColumns(
            file_name,
            f"it has the column(s) {', '.join(reserved)}, whose names the pipeline uses for "
            f"its own bookkeeping ({', '.join(BOOKKEEPING)})",
            "Rename or remove those columns in the export (a rejects.csv dropped back in "
            "keeps its _row and _errors columns, which say it is a replay).",
        )


MAX_IMAGE_COLUMNS = 10
DEFAULT_IMAGE_COLUMNS = ("image_url", *(f"image_url_{n}" for n in range(2, MAX_IMAGE_COLUMNS + 1)))
"""The columns a product's image URLs are read from when its profile names none (here, not
in core/images.py, so reading a profile does not import Pillow into every run process)."""
