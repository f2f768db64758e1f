"""A landed workbook (xlsx, xlsm, xlsb, xls, ods) -> text frames, read like a CSV's.

The reader is calamine, through `fastexcel` (the engine polars' `read_excel` uses), with
every cell read as text: casting stays the entity spec's job, so one bad cell becomes a
reject. Date cells arrive as ISO text, formulas as the values cached in the file. calamine
holds a whole sheet in memory while it parses it (it does not stream), so a workbook is
read sheet-whole and then handed on in slices of about `batch_bytes`.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import fastexcel
import polars as pl

from import_pipeline.core.csv_records import refuse_duplicates
from import_pipeline.core.errors import EmptySheet, MissingSheet, UnreadableWorkbook
from import_pipeline.core.formats import OLE_MAGIC, ZIP_MAGIC

SAVE_AS_FIX = "Open it in Excel or LibreOffice and save it again as .xlsx (or export it as CSV)."


@dataclass(frozen=True)
class SheetChoice:
    """Which sheet to read (`None`: the first) and the sheet row number (from 1) that holds
    the header; `has_header=False` names the columns `column_1`... from that row on."""

    sheet: str | None = None
    header_row: int = 1
    has_header: bool = True


def is_workbook(head: bytes) -> bool:
    """True for the containers workbooks come in: a zip archive or an OLE compound file."""
    return head.startswith(ZIP_MAGIC) or head.startswith(OLE_MAGIC)


def workbook_frames(
    path: Path, file_name: str, choice: SheetChoice, batch_bytes: int | None = None
) -> Iterator[pl.DataFrame]:
    """The chosen sheet's data rows as text columns, in slices of about `batch_bytes` of
    text (None: one frame). Raises a named error when the workbook cannot be opened, the
    sheet is missing, or it holds nothing at or below its header row."""
    frame = _read_sheet(path, file_name, choice)
    if batch_bytes is None or frame.height == 0:
        yield frame
        return
    rows = max(1, batch_bytes * frame.height // max(frame.estimated_size(), 1))
    yield from frame.iter_slices(rows)


def _read_sheet(path: Path, file_name: str, choice: SheetChoice) -> pl.DataFrame:
    try:
        reader = fastexcel.read_excel(path)
    except fastexcel.FastExcelError as exc:
        raise UnreadableWorkbook(
            file_name, f"it cannot be opened as a workbook ({_first_line(exc)})", SAVE_AS_FIX
        ) from exc
    sheets = reader.sheet_names
    if choice.sheet is not None and choice.sheet not in sheets:
        raise MissingSheet(
            file_name,
            f"it has no sheet named {choice.sheet!r} (its sheets: {', '.join(sheets)})",
            "Fix `sheet:` under `read:` in the source profile, or rename the sheet.",
        )
    sheet = choice.sheet if choice.sheet is not None else 0
    sheet_label = choice.sheet if choice.sheet is not None else (sheets[0] if sheets else "1")
    try:
        # NOTE: header_row=None with skip_rows=0 keeps every sheet row from row 1, blank
        # ones too, so the header is found where the profile says it is.
        cells = reader.load_sheet(
            sheet, header_row=None, skip_rows=0, dtypes="string", skip_whitespace_tail_rows=True
        ).to_polars()
    except fastexcel.FastExcelError as exc:
        raise UnreadableWorkbook(
            file_name, f"its sheet {sheet_label!r} cannot be read ({_first_line(exc)})", SAVE_AS_FIX
        ) from exc
    cells = cells.slice(choice.header_row - 1)
    if cells.height == 0 or cells.width == 0:
        raise EmptySheet(
            file_name,
            f"its sheet {sheet_label!r} has no cells from row {choice.header_row} on",
            "Fill the sheet, or name the sheet (`sheet:`) and header row (`header_row:`) "
            "under `read:` in the source profile.",
        )
    if not choice.has_header:
        return cells.rename({c: f"column_{i}" for i, c in enumerate(cells.columns, start=1)})
    return _with_header(cells, file_name)


def _with_header(cells: pl.DataFrame, file_name: str) -> pl.DataFrame:
    """The first row as column names: a column with neither a name nor a value is dropped
    (formatting beyond the data), a nameless one with values is `column_<n>`."""
    header = cells.row(0)
    body = cells.slice(1)
    names: dict[str, str] = {}
    for position, (column, name) in enumerate(zip(cells.columns, header, strict=True), start=1):
        label = (name or "").strip()
        if label:
            names[column] = label
        elif body.get_column(column).null_count() < body.height:
            names[column] = f"column_{position}"
    refuse_duplicates(list(names.values()), file_name)
    return body.select(list(names)).rename(names)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
