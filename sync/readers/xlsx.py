"""Read the first sheet of an XLSX source as text cells (openpyxl, read-only mode).

A minimal reader so that regsync's own XLSX exports import back; issue 3 brings the
full one (a fast reader, --sheet, dates). Numbers typed into cells come back as the
text a spreadsheet shows (`100`, never `100.0`); export neutralisation is undone.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import polars as pl

from sync.errors import SourceError
from sync.readers.neutralise import unneutralise
from sync.readers.table import SourceTable


def read_xlsx(path: Path, *, header_row: int = 1) -> SourceTable:
    """Read the first sheet of `path`; row `header_row` is the header.

    Every cell becomes text; empty cells are null. Raises SourceError naming the file
    when it is not a readable workbook or has no header.
    """
    with path.open("rb") as handle:  # a handle: openpyxl would judge a path by its name
        try:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise SourceError(f"{path}: not a readable XLSX workbook ({exc})") from None
        return _read_sheet(path, workbook, header_row)


def _read_sheet(path: Path, workbook: openpyxl.Workbook, header_row: int) -> SourceTable:
    try:
        rows = workbook.worksheets[0].iter_rows(min_row=header_row, values_only=True)
        header = next(rows, None)
        headers = [_text(v) or "" for v in header or ()]
        while headers and not headers[-1]:
            headers.pop()
        if not headers:
            raise SourceError(f"{path}: no header in row {header_row} of the first sheet")
        width = len(headers)
        records: list[list[str | None]] = []
        numbers: list[int] = []
        ragged: list[tuple[int, int]] = []
        skipped = 0
        for number, values in enumerate(rows, start=header_row + 1):
            cells = [_text(v) for v in values]
            if not any(cells):
                skipped += 1
            elif any(cells[width:]):
                ragged.append((number, max(i for i, c in enumerate(cells) if c) + 1))
            else:
                records.append((cells + [None] * width)[:width])
                numbers.append(number)
    finally:
        workbook.close()
    names = [f"c{i}" for i in range(width)]
    frame = pl.DataFrame(records, schema={n: pl.String for n in names}, orient="row")
    frame = frame.select(pl.Series("_row", numbers, dtype=pl.Int64),
                         unneutralise(pl.col(names)))
    return SourceTable(path=path, format="xlsx", encoding="utf-8", delimiter="",
                       header_row=header_row, headers=headers, frame=frame,
                       ragged=ragged, skipped=skipped)


def _text(value: object) -> str | None:
    """A cell's value as the text a spreadsheet shows; None for an empty cell."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    text = str(value)
    return text if text.strip() else None
