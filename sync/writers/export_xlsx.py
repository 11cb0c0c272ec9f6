"""XLSX export: every cell a text cell, header row frozen, columns as wide as their text.

xlsxwriter writes the workbook (styles, column widths, the frozen pane) and polars the
sheet's rows (sync.writers.xlsx_rows: the header row, then the data rows a chunk at a
time) into a file beside the export; the two are then put together into the export's
zip file.
Only one chunk of the register is in memory.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import BinaryIO

import polars as pl
import xlsxwriter
from xlsxwriter.exceptions import FileCreateError
from xlsxwriter.utility import xl_col_to_name

from sync.errors import ExportError
from sync.slices import slice_bounds
from sync.writers.cells import neutralise, neutralised_headers
from sync.writers.xlsx_rows import display_width, row_elements, utf16_units

MAX_ROWS = 1_048_576  # rows in one sheet, the header included
_MAX_CELL = 32_767  # UTF-16 units in one cell
_MIN_WIDTH, _MAX_WIDTH = 8, 60
SHEET_NAMES = {"en": "Customers", "fi": "Asiakkaat", "sv": "Kunder", "cs": "Zákazníci"}
_SHEET_XML = "xl/worksheets/sheet1.xml"
_SLICE_BYTES = 32 << 20  # text of the rows whose XML is built at once


def write_xlsx(chunks: Iterable[pl.DataFrame], dest: Path, headers: Mapping[str, str],
               sheet_name: str = "Customers") -> int:
    """Write the chunks to `dest` as one sheet; return the number of data rows.

    Promise: every cell, empty ones included, has the text number format `@` and every
    value is stored as a string, so a spreadsheet keeps `00100` through open, edit and
    save; values that would run as formulas are neutralised; every value reads back
    exactly as it was. Raises ExportError when the selection does not fit one sheet or
    a value does not fit one cell.
    """
    # Our own folder beside `dest` for the rows and the workbook's other parts,
    # removed whatever happens (a full disk left xlsxwriter's in $TMPDIR).
    with tempfile.TemporaryDirectory(prefix=".regsync-xlsx-", dir=dest.parent) as work:
        book = Path(work) / "book.xlsx"
        rows = Path(work) / "rows.xml"
        options = {"constant_memory": True, "strings_to_numbers": False,
                   "strings_to_formulas": False, "strings_to_urls": False, "tmpdir": work}
        workbook = xlsxwriter.Workbook(str(book), options)
        try:
            with rows.open("wb") as out:
                count, columns = _write_sheet(workbook, chunks, headers, sheet_name, out)
        except BaseException:
            with contextlib.suppress(Exception):  # the first error is the one to tell
                _close(workbook)
            raise
        _close(workbook)
        if columns == 0:  # no chunk came: no header row either
            shutil.move(book, dest)
        else:
            _put_together(book, rows, dest, f"{xl_col_to_name(columns - 1)}{count + 1}")
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
                 headers: Mapping[str, str], sheet_name: str,
                 out: BinaryIO) -> tuple[int, int]:
    """Write the column formats through `workbook`, the header row and the data rows
    to `out`; return the number of data rows and of columns."""
    text = workbook.add_format({"num_format": "@"})
    bold = workbook.add_format({"num_format": "@", "bold": True})
    # xlsxwriter numbers a format when a cell first uses it; the data rows are not
    # written through it, so both are numbered here, in the order the header row and
    # the data rows would have used them.
    bold_style = bold._get_xf_index()
    style = text._get_xf_index()
    sheet = workbook.add_worksheet(sheet_name)
    sheet.freeze_panes(1, 0)
    widths: list[int] = []
    letters: list[str] = []
    row = 0
    for chunk in chunks:
        if row == 0:
            named = neutralised_headers({c: headers.get(c, c) for c in chunk.columns})
            names = list(named.values())
            widths = [len(name) for name in names]
            letters = [xl_col_to_name(col) for col in range(len(names))]
            # The header row as the data rows are written (xlsxwriter wrote a header
            # shaped like `<r>x</r>` unescaped, and it read back as no header: QA).
            row_elements(pl.DataFrame([names], schema=chunk.columns, orient="row"), 1,
                         letters, bold_style).to_frame().write_csv(
                out, include_header=False, quote_style="never", line_terminator="")
        if row + chunk.height >= MAX_ROWS:
            raise ExportError(f"the selection has more rows than one XLSX sheet holds "
                              f"({MAX_ROWS - 1}); narrow it or export CSV or Parquet")
        if chunk.height == 0:
            continue
        # A column no customer of the chunk has a value in may come as the Null type.
        cells = chunk.select(neutralise(pl.all().cast(pl.String)))
        _refuse_overlong(chunk, cells, row)
        for col, name in enumerate(cells.columns):
            widths[col] = max(widths[col], display_width(cells[name]))
        # The XML of a slice is about twice its text: slices of long notes stay small.
        for offset, length in slice_bounds(cells, _SLICE_BYTES, chunk.height):
            row_elements(cells.slice(offset, length), row + offset + 2, letters,
                         style).to_frame().write_csv(
                out, include_header=False, quote_style="never", line_terminator="")
        row += chunk.height
    for col, width in enumerate(widths):
        sheet.set_column(col, col, min(max(width + 2, _MIN_WIDTH), _MAX_WIDTH), text)
    return row, len(widths)


def _refuse_overlong(chunk: pl.DataFrame, cells: pl.DataFrame, row: int) -> None:
    """Raise ExportError for the first value of `cells` (by row, then column) that
    holds more than an XLSX cell does; `row` data rows came before the chunk."""
    first: tuple[int, int] | None = None
    for col, name in enumerate(cells.columns):
        # A value of at most _MAX_CELL bytes has at most as many UTF-16 units.
        long = cells[name].str.len_bytes() > _MAX_CELL
        if not long.any():
            continue
        over = (utf16_units(cells[name]) > _MAX_CELL) & long
        index = over.arg_true()
        if index.len() and (first is None or int(index[0]) < first[0]):
            first = (int(index[0]), col)
    if first is None:
        return
    index, col = first
    name = cells.columns[col]
    value = chunk[name].cast(pl.String)[index]  # as the register holds it
    chars, units = len(value), int(utf16_units(pl.Series([value]))[0])
    counted = f" ({units} as Excel counts them)" if units != chars else ""
    # A value that fits only without the `'` that keeps it from running as a formula
    # (QA: "a value of 32768 characters", where the register holds 32,767).
    guarded = (f" once a ' is put before it (it starts with {value[0]!r}, which a "
               f"spreadsheet would run as a formula)" if cells[name][index] != value else "")
    raise ExportError(f"{_whose(chunk, index)}{name} (row {row + index + 2}, "
                      f"column {col + 1}): a value of {chars} characters{counted} does not "
                      f"fit an XLSX cell ({_MAX_CELL}){guarded}; export CSV or Parquet")


def _put_together(book: Path, rows: Path, dest: Path, last_cell: str) -> None:
    """Write `dest`: the parts of the workbook `book`, its sheet with the rows of the
    file `rows` (the header row first) and its dimension `A1:last_cell`."""
    with zipfile.ZipFile(book) as parts, \
            zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as out:
        for info in parts.infolist():
            if info.filename != _SHEET_XML:
                out.writestr(info, parts.read(info))
                continue
            # Every row is in `rows`: xlsxwriter wrote an empty sheetData.
            xml = parts.read(info).decode("utf-8").replace(
                "<sheetData/>", "<sheetData></sheetData>", 1)
            head, tail = xml.split("</sheetData>", 1)
            head = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{last_cell}"/>',
                          head, count=1).encode("utf-8")
            tail = ("</sheetData>" + tail).encode("utf-8")
            sheet = zipfile.ZipInfo(info.filename, info.date_time)
            sheet.compress_type = zipfile.ZIP_DEFLATED
            # zlib's fastest level: the sheet of 1M customers (900 MB of XML) took 20 s at
            # the default level (6) and takes 6 s, in a file 26% larger (133 MB, not 105).
            sheet._compresslevel = 1  # type: ignore[attr-defined]  # ZipFile.open's own
            # The size up front: zipfile then writes Zip64 fields only for a sheet that
            # may need them (from about 3.8 GiB: it allows 5% for compression growing
            # it), as xlsxwriter would.
            sheet.file_size = len(head) + rows.stat().st_size + len(tail)
            with out.open(sheet, "w") as member, rows.open("rb") as data:
                member.write(head)
                shutil.copyfileobj(data, member, 1 << 20)
                member.write(tail)


def _whose(chunk: pl.DataFrame, index: int) -> str:
    """'customer 1001, ' when the chunk's row `index` has a customer number (as the
    register holds it, not as neutralised for the sheet), else nothing."""
    if "customer_number" in chunk.columns:
        number = chunk["customer_number"][index]
        if number is not None:
            return f"customer {number}, "
    return ""
