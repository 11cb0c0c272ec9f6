"""XLSX export: every cell a text cell, header row frozen, columns as wide as their text.

Written with xlsxwriter in constant_memory mode: each row goes to disk as it is written,
so only one chunk of the register is in memory.
"""

from __future__ import annotations

import contextlib
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import polars as pl
import xlsxwriter
from xlsxwriter.exceptions import FileCreateError

from sync.errors import ExportError
from sync.writers.cells import neutralise

MAX_ROWS = 1_048_576  # rows in one sheet, the header included
_MAX_CELL = 32_767  # characters in one cell
_MIN_WIDTH, _MAX_WIDTH = 8, 60
SHEET_NAMES = {"en": "Customers", "fi": "Asiakkaat", "sv": "Kunder", "cs": "Zákazníci"}


def write_xlsx(chunks: Iterable[pl.DataFrame], dest: Path, headers: Mapping[str, str],
               sheet_name: str = "Customers") -> int:
    """Write the chunks to `dest` as one sheet; return the number of data rows.

    Promise: every cell, empty ones included, has the text number format `@` and every
    value is stored as a string, so a spreadsheet keeps `00100` through open, edit and
    save; values that would run as formulas are neutralised. Raises ExportError when
    the selection does not fit one sheet or a value does not fit one cell.
    """
    # constant_memory keeps each row in temporary files until close(): in a folder of
    # our own beside `dest`, removed whatever happens (a full disk left them in $TMPDIR).
    with tempfile.TemporaryDirectory(prefix=".regsync-xlsx-", dir=dest.parent) as rows:
        options = {"constant_memory": True, "strings_to_numbers": False,
                   "strings_to_formulas": False, "strings_to_urls": False, "tmpdir": rows}
        workbook = xlsxwriter.Workbook(str(dest), options)
        try:
            count = _write_sheet(workbook, chunks, headers, sheet_name)
        except BaseException:
            with contextlib.suppress(Exception):  # the first error is the one to tell
                _close(workbook)
            raise
        _close(workbook)
        return count


def _close(workbook: xlsxwriter.Workbook) -> None:
    """Write the workbook out. A system error (a full disk) is raised as the OSError it
    is, for the export's one line (xlsxwriter wraps it in its FileCreateError), and the
    zip file xlsxwriter left open is closed here: closed when garbage-collected, it
    printed a second error and a traceback ("Exception ignored in ZipFile.__del__")."""
    try:
        workbook.close()
    except FileCreateError as exc:
        cause = exc.__context__
        _close_zip_files(cause)
        if isinstance(cause, OSError):
            raise cause from None
        raise OSError(str(exc)) from None


def _close_zip_files(exc: BaseException | None) -> None:
    """Close, ignoring their errors, the zip files open in the frames `exc` went through
    (xlsxwriter's _store_workbook holds the one it was writing)."""
    tb = exc.__traceback__ if exc is not None else None
    while tb is not None:
        for value in list(tb.tb_frame.f_locals.values()):
            if isinstance(value, zipfile.ZipFile):
                with contextlib.suppress(OSError, ValueError):
                    value.close()
                if value.fp is not None:  # close() stopped before it let go of the file
                    with contextlib.suppress(OSError, ValueError):
                        value.fp.close()
                    value.fp = None
        tb = tb.tb_next


def _write_sheet(workbook: xlsxwriter.Workbook, chunks: Iterable[pl.DataFrame],
                 headers: Mapping[str, str], sheet_name: str) -> int:
    text = workbook.add_format({"num_format": "@"})
    bold = workbook.add_format({"num_format": "@", "bold": True})
    sheet = workbook.add_worksheet(sheet_name)
    sheet.freeze_panes(1, 0)
    widths: list[int] = []
    row = 0
    for chunk in chunks:
        if row == 0:
            names = [headers.get(c, c) for c in chunk.columns]
            for col, name in enumerate(names):
                sheet.write_string(0, col, name, bold)
            widths = [len(name) for name in names]
        if row + chunk.height >= MAX_ROWS:
            raise ExportError(f"the selection has more rows than one XLSX sheet holds "
                              f"({MAX_ROWS - 1}); narrow it or export CSV or Parquet")
        first_row = row
        for values in chunk.select(neutralise(pl.all())).iter_rows():
            row += 1
            for col, value in enumerate(values):
                if value is None:
                    sheet.write_blank(row, col, None, text)
                    continue
                if len(value) > _MAX_CELL:
                    raise ExportError(f"{_whose(chunk, row - first_row - 1)}{chunk.columns[col]}"
                                      f" (row {row + 1}, column {col + 1}): a value of "
                                      f"{len(value)} characters does not fit an XLSX cell "
                                      f"({_MAX_CELL}); export CSV or Parquet")
                sheet.write_string(row, col, value, text)
                widths[col] = max(widths[col], _display_width(value))
    for col, width in enumerate(widths):
        sheet.set_column(col, col, min(max(width + 2, _MIN_WIDTH), _MAX_WIDTH), text)
    return row


def _whose(chunk: pl.DataFrame, index: int) -> str:
    """'customer 1001, ' when the chunk's row `index` has a customer number (as the
    register holds it, not as neutralised for the sheet), else nothing."""
    if "customer_number" in chunk.columns:
        number = chunk["customer_number"][index]
        if number is not None:
            return f"customer {number}, "
    return ""


def _display_width(value: str) -> int:
    """Characters of the longest line (a cell may hold line breaks)."""
    return max(len(line) for line in value.split("\n")) if "\n" in value else len(value)
