"""Read an XLSX sheet as text cells.

Every cell arrives as text, the way the sheet shows the value, not a re-typed one:
numbers typed as 100 are `100` (an integral number never gets `.0`, and large ones keep
all their integer digits instead of turning into `3.58401E+11`), dates are ISO text,
a number in a time-only format is the time the sheet shows (`00:00:00`, `25:00:00`
under `[hh]:mm:ss`), formulas give the value the spreadsheet saved with them. Row
numbers are the sheet's.

A sheet whose XML is small is read whole by calamine (through fastexcel); a larger one
is streamed window by window (`xlsx_stream`), so memory stays about one copy of the
frame read, and so is one calamine would read otherwise than the sheet shows (a number
with a fraction, which fastexcel rounds to 9 decimals; a cell in a time-only format,
which calamine, seeing no format, reads as a date; see `read_xlsx`). Both give the
same text for the same cell. A cell holding a spreadsheet
error (`#N/A`, `#DIV/0!`, ...) has no value; it is listed in `SourceTable.cell_errors`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import fastexcel
import polars as pl

from sync.errors import SourceError, first_line
from sync.readers import xlsx_book, xlsx_stream
from sync.readers.neutralise import unneutralise
from sync.readers.table import HEAD_ROWS, SourceTable, clean_text
from sync.readers.xlsx_book import Book, SheetInfo
from sync.readers.xlsx_merges import merge_warnings
from sync.readers.xlsx_stream import DATE_OUT_OF_RANGE, CannotStream, stream_cells
from sync.readers.xlsx_text import number_text
from sync.types import HeadRows, SheetHead

STREAM_BYTES = 32 << 20
"""Sheets whose XML is larger than this (uncompressed) are streamed, not read whole.

About 100,000 to 150,000 rows: calamine reads a sheet in about a third of the CPU time
of the streamed reader but holds about four times the frame while it does, so below this
size it costs little memory (~100 MiB at most) and is faster."""

CHUNK_BYTES = 8 << 20
"""A streamed sheet's data rows are gathered into chunks of about this many text bytes
(polars' `estimated_size`)."""

# Above this many grid cells (rows x columns from A1) calamine's grid costs more than
# the file is worth (about 32 bytes a cell); the streamed reader keeps only the values.
_CALAMINE_CELLS = 20_000_000
_READ_ERRORS = (fastexcel.FastExcelError, pl.exceptions.PolarsError, ValueError, OSError)
_BOOK_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, KeyError,
                ET.ParseError, ValueError, OSError, EOFError)
_MIDNIGHT = " 00:00:00"
# calamine's text of a date past year 9999, or before 1904 (a negative date number in
# either date system; the sheet's XML decides, see _dates_out_of_range).
_DATE_OUTSIDE = (r"^(?:\+[0-9]{5,}|-[0-9]{4,}|0[0-9]{3}|1[0-8][0-9]{2}|190[0-3])-[0-9]{2}-[0-9]{2}"
                 r"(?: [0-9]{2}:[0-9]{2}:[0-9]{2})?")
# calamine writes a time-of-day cell as a time on its day zero.
_DAY_ZERO = "1899-12-31 "
# calamine's text of a date cell (at midnight) or of a time-of-day cell.
_DATE_BODY = r"[0-9]{4}-[0-9]{2}-[0-9]{2} 00:00:00|1899-12-31 [0-9]{2}:[0-9]{2}:[0-9]{2}"
_DATE_TEXT = rf"^(?:{_DATE_BODY})$"
_DATE_IN_XML = re.compile(rf">({_DATE_BODY})<".encode())
_MIDNIGHT_END, _DAY_ZERO_START = f"{_MIDNIGHT}<".encode(), f">{_DAY_ZERO}".encode()
# calamine's names for the error values, as the spreadsheet shows them.
_ERROR_TEXT = {"Div0": "#DIV/0!", "NA": "#N/A", "Name": "#NAME?", "Null": "#NULL!",
               "Num": "#NUM!", "Ref": "#REF!", "Value": "#VALUE!",
               "GettingData": "#GETTING_DATA"}


@dataclass
class _Grid:
    """A sheet as read: windows of rows (wide, absolute columns `k<index>`, text as
    calamine gives it), the cells' extent and the error cells."""

    windows: Iterable[pl.DataFrame]
    errors: list[tuple[int, int, str]] = field(default_factory=list)  # row, column, error
    built: set[str] = field(default_factory=set)  # columns with text not from shared strings
    merges: list[str] = field(default_factory=list)  # merged ranges, "C2:C4"
    # The sheet column of column 0: calamine's grid starts at the leftmost one in use.
    offset: int = 0
    first_col: int | None = None
    last_col: int = -1
    last_row: int = 0


def read_xlsx(path: Path, *, sheet: str | None = None, header_row: int = 1,
              stream_bytes: int = STREAM_BYTES) -> SourceTable:
    """Read sheet `sheet` (default: the first visible one) of the workbook at `path`.

    Every cell is text. Row `header_row` (the sheet's own row number) is the header; rows
    above it are ignored, blank rows below it are skipped and counted. Raises SourceError
    with one line naming the file (and the sheet or row) when the sheet cannot be read.
    Sheets whose XML is larger than `stream_bytes` are streamed.
    """
    if header_row < 1:
        raise SourceError(f"{path}: --header-row must be 1 or more, not {header_row}")
    try:
        book = xlsx_book.open_book(path)
    except _BOOK_ERRORS as exc:
        raise _unreadable(path, exc) from None
    try:
        info = _choose_sheet(path, book, sheet)
        where = f"{path}: sheet {info.name!r}"
        others = [s.name for s in book.sheets if s.name != info.name]
        # The first sheet may be empty, or a chart, with the data on another one.
        empty_hint = ("" if sheet is not None or not others else
                      f"; the workbook's other sheets are {', '.join(map(repr, others))}: "
                      f"name the one to read with --sheet")

        @functools.cache
        def typed() -> list[str]:  # read only once a cell looks like a date
            try:
                # The sheet's own texts come from its survey (done before a calamine read).
                return _typed_like_dates(book, surveyed().texts)
            except _BOOK_ERRORS as exc:
                raise _unreadable(path, exc) from None

        survey: xlsx_stream.SheetSurvey | None = None

        def surveyed() -> xlsx_stream.SheetSurvey:
            """The sheet's survey, refused past any spreadsheet's limits (read once)."""
            nonlocal survey
            if survey is None:
                try:
                    survey = xlsx_stream.survey_sheet(book, info, _DATE_IN_XML,
                                                      (_MIDNIGHT_END, _DAY_ZERO_START))
                except _BOOK_ERRORS as exc:
                    raise _unreadable(path, exc) from None
                if (survey.rows > xlsx_stream.MAX_ROWS
                        or survey.columns > xlsx_stream.MAX_COLUMNS):
                    raise SourceError(
                        f"{where} has a cell beyond row {xlsx_stream.MAX_ROWS:,} or column "
                        "XFD, which no spreadsheet has; the file is damaged: save it again "
                        "from the spreadsheet")
            return survey

        # calamine gives no cell's style: the streamed reader shows numbers in a
        # zero-padding style ("0000") as the sheet does, so it reads such workbooks.
        streamed = book.part_size(info) > stream_bytes or bool(book.padded_styles)
        if not streamed:
            found = surveyed()
            # calamine holds the sheet as a full grid from A1 to its farthest cell (one
            # cell at XFD1048576: 500 GiB, and the process aborts), reads a formula
            # saved without its value as an empty cell (and one whose saved value the
            # workbook marks as not computed as that value), prints a number of 16 digits
            # or more in full (see IMPRECISE_NUMBERS) and one with a fraction with 9 decimals
            # (3.141592654 for 3.14159265358979; 123456789.122999996 for .123).
            # So does it read a few cells otherwise than the streamed reader (`odd`),
            # and a time-only style's number as a date (0 as 1899-12-31, `timed`).
            streamed = (found.rows * found.columns > _CALAMINE_CELLS or found.valueless
                        or found.imprecise or found.fractional or found.odd or found.timed
                        or (found.formulas and book.formulas_uncomputed))
        if streamed:
            for canonical in (False, True):  # XML of another spelling: rewritten
                try:
                    return _table(path, info.name, header_row,
                                  _streamed(book, info, canonical), typed, empty_hint)
                except (CannotStream, pl.exceptions.PolarsError):
                    pass  # XML this reader does not handle: calamine reads it whole
                except _BOOK_ERRORS as exc:
                    raise SourceError(f"{where} cannot be read ({_reason(exc)}); save it "
                                      "again from the spreadsheet as .xlsx or as CSV"
                                      ) from None
            found = surveyed()
            if found.formulas and book.formulas_uncomputed:
                # calamine would read the saved values the workbook says are not computed
                # (xlsxwriter saves 0): no cell of such a formula can be trusted.
                raise SourceError(f"{where} has formulas whose saved values the workbook "
                                  "marks as not computed, in XML this reader can't stream; "
                                  "open and save it in a spreadsheet program, or save it "
                                  "as CSV")
            if found.rows * found.columns > _CALAMINE_CELLS:
                raise SourceError(f"{where} spans {found.rows:,} rows x {found.columns:,} "
                                  "columns in XML "
                                  "this reader can't stream; save it again from the "
                                  "spreadsheet as .xlsx or as CSV")
        grid = _calamine(path, book, info, surveyed().fractional or surveyed().imprecise)
        grid.merges = sorted(surveyed().merges)
        grid.offset = surveyed().first_column % xlsx_stream.MAX_COLUMNS
        return _table(path, info.name, header_row, grid, typed, empty_hint)
    finally:
        book.close()


def _choose_sheet(path: Path, book: Book, sheet: str | None) -> SheetInfo:
    names = [s.name for s in book.sheets]
    if not names:
        raise SourceError(f"{path}: the workbook has no sheets")
    if sheet is None:
        visible = [s for s in book.sheets if s.state == "visible"]
        if not visible:
            shown = ", ".join(repr(n) for n in names)
            raise SourceError(f"{path}: every sheet is hidden ({shown}); name the one to "
                              "read with --sheet")
        return visible[0]
    for candidate in book.sheets:
        if candidate.name == sheet:
            return candidate
    # Case aside, and composed: a name typed or pasted with its accents as marks of
    # their own (NFD, as macOS may give it) looks the same (QA).
    wanted = unicodedata.normalize("NFC", sheet).casefold()
    for candidate in book.sheets:
        if unicodedata.normalize("NFC", candidate.name).casefold() == wanted:
            return candidate
    shown = ", ".join(repr(n) for n in names)
    raise SourceError(f"{path}: no sheet named {sheet!r}; the sheets are {shown} (pass --sheet)")


def _calamine(path: Path, book: Book, info: SheetInfo, numbers: bool = False) -> _Grid:
    """The whole sheet through calamine: one window, and the error cells. `numbers`:
    the sheet has a number with a fraction or of 16 digits or more, which calamine prints
    otherwise than the streamed reader (see `_numbers_as_streamed`)."""
    try:
        reader = fastexcel.read_excel(path)
        loaded = reader.load_sheet(info.name, header_row=None, skip_rows=0, dtypes="string")
        batch, errors = loaded.to_arrow_with_errors()
        grid = pl.from_arrow(batch)
        assert isinstance(grid, pl.DataFrame)
        grid = grid.select(pl.col(c).cast(pl.String).alias(f"k{i}")
                           for i, c in enumerate(grid.columns))
        if numbers:
            grid = _numbers_as_streamed(grid, reader, info)
    except _READ_ERRORS as exc:
        raise _unreadable(path, exc) from None
    found = []
    for error in (errors.errors if errors is not None else []):
        row, col = error.position
        if "DateTime(" in error.detail:  # a date chrono cannot hold (e.g. serial 1e10)
            found.append((row + 1, col, DATE_OUT_OF_RANGE))
            continue
        kind = error.detail.rsplit("Error(", 1)[-1].rstrip(")'")
        found.append((row + 1, col, _ERROR_TEXT.get(kind, f"#{kind.upper()}")))
    grid = _dates_out_of_range(grid, found, book, info)
    window = grid.with_row_index("_row", offset=1).with_columns(pl.col("_row").cast(pl.Int64))
    return _Grid(windows=[window], errors=found, first_col=0 if grid.width else None,
                 last_col=grid.width - 1, last_row=grid.height if grid.width else 0)


def _numbers_as_streamed(grid: pl.DataFrame, reader: fastexcel.ExcelReader,
                         info: SheetInfo) -> pl.DataFrame:
    """`grid` (calamine's text) with its number cells in the streamed reader's text
    (`number_text`): fastexcel prints a number with a fraction with at most 9 decimals
    (3.141592654 for 3.14159265358979, 123456789.122999996 for 123456789.123) and one
    of 16 digits or more in full (see IMPRECISE_NUMBERS).

    fastexcel gives no cell's type, so the sheet is read twice more: as numbers (the
    values), and as booleans, which lists every text cell as an error (a text cell
    that reads like a number, "1.50", keeps its text). Sheets the streamed reader
    reads never come here (see `read_xlsx`), only XML forms it does not handle."""
    def load(dtype: Literal["float", "boolean"]) -> tuple[pl.DataFrame, list[tuple[int, int]]]:
        """The sheet read as `dtype`, and the positions of its text cells."""
        batch, errors = reader.load_sheet(info.name, header_row=None, skip_rows=0,
                                          dtypes=dtype).to_arrow_with_errors()
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        texts = [e.position for e in (errors.errors if errors is not None else [])
                 if "String(" in e.detail]
        return frame, texts

    values, _ = load("float")
    _, texts = load("boolean")
    if values.shape != grid.shape:
        return grid  # the reads do not line up: keep calamine's text
    text_cells = pl.DataFrame({"row": [r for r, _ in texts], "col": [c for _, c in texts]},
                              schema={"row": pl.Int64, "col": pl.Int64})
    fixed = []
    for col, (name, number) in enumerate(zip(grid.columns, values.columns, strict=True)):
        value = values[number].cast(pl.Float64)
        text = grid[name]
        # number cells: a value, no text cell, and not a boolean (true/false)
        change = value.is_not_null() & text.str.contains(r"^-?[0-9]").fill_null(False)
        typed = text_cells.filter(pl.col("col") == col)["row"]
        if typed.len():
            change = change.scatter(typed, False)
        if change.any():
            shown = number_text(value.filter(change).cast(pl.String))
            if not shown.equals(text.filter(change)):
                fixed.append(text.scatter(change.arg_true(), shown).alias(name))
    return grid.with_columns(fixed) if fixed else grid


def _dates_out_of_range(grid: pl.DataFrame, found: list[tuple[int, int, str]],
                        book: Book, info: SheetInfo) -> pl.DataFrame:
    """`grid` with calamine's dates before year 1 or past 9999 (`+10000-01-01 00:00:00`)
    made error cells, as the streamed reader reads them; appends them to `found`.

    calamine gives every cell as text, so a text cell that merely looks like such a date
    (`0000-00-00 00:00:00`, a database's zero date) can't be told apart from its text:
    only cells that the sheet XML holds as out-of-range date numbers are made errors.
    """
    outside = [c for c in grid.columns
               if grid[c].str.contains(_DATE_OUTSIDE).fill_null(False).any()]
    if not outside:
        return grid
    dates = _out_of_range_dates(book, info)
    for name in outside:
        col = int(name[1:])
        hit = grid[name].str.contains(_DATE_OUTSIDE).fill_null(False)
        rows = [row for row in hit.arg_true().to_list() if (row + 1, col) in dates]
        if rows:
            found.extend((row + 1, col, DATE_OUT_OF_RANGE) for row in rows)
            grid = grid.with_columns(grid[name].scatter(rows, None))
    found.sort()
    return grid


def _out_of_range_dates(book: Book, info: SheetInfo) -> set[tuple[int, int]]:
    """(row, column) of the sheet's date cells before year 1 or past 9999, by the sheet
    XML (cell type and style); empty if the XML is of a kind the streamed reader can't
    read (then such cells keep calamine's text)."""
    try:
        return {(row, col) for frame in stream_cells(book, info)
                for row, col in frame.filter(pl.col("error") == DATE_OUT_OF_RANGE)
                .select("_row", "col").iter_rows()}
    except (CannotStream, pl.exceptions.PolarsError, *_BOOK_ERRORS):
        return set()


def _streamed(book: Book, info: SheetInfo, canonical: bool = False) -> _Grid:
    grid = _Grid(windows=[])
    grid.windows = _stream_windows(book, info, grid, canonical)
    return grid


def _stream_windows(book: Book, info: SheetInfo, grid: _Grid,
                    canonical: bool) -> Iterator[pl.DataFrame]:
    """Wide windows of the streamed sheet; fills in `grid`'s extent, errors and merged
    ranges as it goes."""
    for cells in xlsx_stream.stream_cells(book, info, canonical=canonical,
                                          merges=grid.merges):
        low, high = cells["col"].min(), cells["col"].max()
        assert isinstance(low, int) and isinstance(high, int)
        grid.first_col = low if grid.first_col is None else min(grid.first_col, low)
        grid.last_col = max(grid.last_col, high)
        grid.last_row = max(grid.last_row, int(cells["_row"].max()))  # type: ignore[arg-type]
        built = cells.filter(~pl.col("shared") & (pl.col("text").str.len_bytes() > 12))
        grid.built.update(f"k{c}" for c in built["col"].unique().to_list())
        errors = cells.filter(pl.col("error").is_not_null())
        grid.errors.extend(errors.select("_row", "col", "error").rows())
        wide = cells.pivot(on="col", index="_row", values="text", aggregate_function="last")
        yield wide.rename({c: f"k{c}" for c in wide.columns if c != "_row"})


def _typed_like_dates(book: Book, in_sheet: set[str]) -> list[str]:
    """The text cells that read like calamine's text of a date or time cell
    ("2024-01-01 00:00:00", "1899-12-31 08:30:00"): shared strings, and `in_sheet`, the
    sheet's own such texts (inline strings, formulas' text results). A real date cell is
    a number, never text, so cells with this text were typed so and keep it (a date cell
    that happens to equal one keeps its " 00:00:00": nothing is lost)."""
    shared = book.shared()
    found = set(shared.filter(shared.str.contains(_DATE_TEXT)).to_list())
    return sorted(found | in_sheet)


def _table(path: Path, name: str, header_row: int, grid: _Grid,
           typed: Callable[[], list[str]], empty_hint: str = "") -> SourceTable:
    """The SourceTable of a sheet read as `grid` (either path); `typed()`: the text
    shown as it is (see `_typed_like_dates`); `empty_hint` ends the error of an empty
    sheet."""
    where = f"{path}: sheet {name!r}"
    top: list[pl.DataFrame] = []  # rows up to the header and the head rows, as read
    data: list[pl.DataFrame] = []
    pending: list[pl.DataFrame] = []  # windows not yet gathered into a chunk of `data`
    filled: set[str] = set()  # columns with a non-blank cell below the header
    for window in grid.windows:
        top.append(window.filter(pl.col("_row") <= max(header_row, HEAD_ROWS)))
        below = window.filter(pl.col("_row") > header_row)
        del window
        if below.height:
            below = _cleaned(below, typed)
            filled.update(_filled(below))
            pending.append(_drop_blank(below, grid.errors))
            del below
            if sum(p.estimated_size() for p in pending) >= CHUNK_BYTES:
                data.append(_gathered(pending, grid.built))
    if pending:
        data.append(_gathered(pending, grid.built))
    if grid.first_col is None or grid.last_row == 0:
        raise SourceError(f"{where} is empty{empty_hint}")
    columns = [f"k{k}" for k in range(grid.first_col, grid.last_col + 1)]
    rows = _top_rows(top, columns)
    head = [(number, [cell or "" for cell in rows.get(number, [None] * len(columns))])
            for number in range(1, min(HEAD_ROWS, grid.last_row) + 1)]
    headers = _header(where, rows, header_row, grid.last_row, data)
    # An error cell is no empty one: its column stays, so the error is reported.
    filled.update(f"k{col}" for row, col, _ in grid.errors if row > header_row)
    while headers and not headers[-1] and columns[len(headers) - 1] not in filled:
        headers.pop()  # columns that are empty from the header down: formatting only
    kept = columns[:len(headers)]
    names = {k: f"c{i}" for i, k in enumerate(kept)}
    frames = [w.select(pl.col("_row").cast(pl.Int64),
                       *[(pl.col(k) if k in w.columns else pl.lit(None, pl.String)).alias(c)
                         for k, c in names.items()]) for w in data]
    frame = (pl.concat(frames, how="vertical", rechunk=False) if len(frames) > 1 else
             frames[0] if frames else pl.DataFrame(
                 schema={"_row": pl.Int64, **{c: pl.String for c in names.values()}}))
    errors = [(row, names[f"k{col}"], text) for row, col, text in grid.errors
              if row > header_row and f"k{col}" in names]
    # Merged ranges name sheet columns; calamine's grid starts at the leftmost in use.
    warnings = merge_warnings(grid.merges, frame["_row"],
                              {int(k[1:]) + grid.offset: c for k, c in names.items()},
                              dict(zip(names.values(), headers, strict=True)), header_row)
    first = None if grid.first_col is None else grid.first_col + grid.offset
    return SourceTable(path=path, format="xlsx", encoding=None, delimiter=None,
                       header_row=header_row, headers=headers, frame=frame,
                       first_column=lambda: first,
                       skipped=grid.last_row - header_row - frame.height
                       if grid.last_row > header_row else 0,
                       sheet=name, cell_errors=errors, cell_warnings=warnings,
                       head=SheetHead(head, sheet=name,
                                      other_sheets=functools.partial(sheet_heads, path, name)))


_OTHER_SHEETS = 20  # sheets looked at for a header, at most


def sheet_heads(path: Path, skip: str) -> list[tuple[str, HeadRows]]:
    """The first HEAD_ROWS rows of the workbook's visible sheets but `skip` (at most
    _OTHER_SHEETS of them), as (name, rows of text cells); a sheet that can't be read
    is left out. Cheap: the streamed reader reads a sheet's first window only."""
    found: list[tuple[str, HeadRows]] = []
    try:
        book = xlsx_book.open_book(path)
    except _BOOK_ERRORS:
        return found
    try:
        sheets = [s for s in book.sheets if s.state == "visible" and s.name != skip]
        for info in sheets[:_OTHER_SHEETS]:
            try:
                rows = _first_rows(path, book, info)
            except (CannotStream, pl.exceptions.PolarsError, *_READ_ERRORS, *_BOOK_ERRORS):
                continue
            if rows:
                found.append((info.name, rows))
    finally:
        book.close()
    return found


def _first_rows(path: Path, book: Book, info: SheetInfo) -> HeadRows:
    try:
        window = next(iter(stream_cells(book, info)), None)
        cells = ([] if window is None else
                 window.filter(pl.col("_row") <= HEAD_ROWS).select("_row", "col", "text").rows())
    except CannotStream:
        if book.part_size(info) > STREAM_BYTES:
            return []  # too large to read whole for a hint
        grid = fastexcel.read_excel(path).load_sheet(
            info.name, header_row=None, n_rows=HEAD_ROWS, dtypes="string").to_polars()
        cells = [(row + 1, col, text) for row, values in enumerate(grid.rows())
                 for col, text in enumerate(values)]
    width = max((col for _, col, text in cells if text), default=-1) + 1
    rows: dict[int, list[str]] = {}
    for row, col, text in cells:
        if text:
            rows.setdefault(row, [""] * width)[col] = str(text).strip()
    return sorted(rows.items())


def _cleaned(window: pl.DataFrame, typed: Callable[[], list[str]]) -> pl.DataFrame:
    """A window's cells as the source's text: dates as ISO text, text guards unwrapped,
    empty cells null, the export's neutralisation undone.

    One step at a time: nested into one expression, each step repeats the one before it
    (the `when` branches), which costs polars' optimiser about 40 ms a window. A step a
    column needs not (no cell it would change) is left out for that column."""
    names = [c for c in window.columns if c != "_row"]
    if not names:
        return window
    cell = [pl.col(c) for c in names]
    found = window.select(
        *[(c.str.ends_with(_MIDNIGHT) | c.str.starts_with(_DAY_ZERO)).any().alias(f"d{i}")
          for i, c in enumerate(cell)],
        *[(c.str.starts_with('="') | (c == "")).any().alias(f"g{i}")
          for i, c in enumerate(cell)],
        *[c.str.starts_with("'").any().alias(f"q{i}") for i, c in enumerate(cell)]).row(0)
    n = len(names)
    shown, clean, quoted = found[:n], found[n:2 * n], found[2 * n:]
    # Only the columns with a cell a step changes go through it (most go through none).
    if any(shown):
        window = window.with_columns(_as_shown(c, typed()).alias(c)
                                     for c, f in zip(names, shown, strict=True) if f)
    window = window.with_columns(clean_text(pl.col(c)).alias(c)
                                 for c, f in zip(names, clean, strict=True) if f)
    return window.with_columns(unneutralise(pl.col(c)).alias(c)
                               for c, f, q in zip(names, clean, quoted, strict=True) if f or q)


def _gathered(windows: list[pl.DataFrame], built: set[str]) -> pl.DataFrame:
    """`windows` (data rows, wide; emptied) as one chunk; the text of columns `built`
    copied into new, large buffers.

    Each window's text sits in small buffers among the allocator's pages of that window's
    scratch work; kept as they are, those pages stay partly used (about a third of the
    frame again). Copied a few windows at a time, it is packed, and the windows' pages are
    reused by the next windows' scratch work. Text from a workbook's shared strings is not
    copied: it already lives in the string table's large buffers, which it shares.
    """
    if len(windows) == 1:
        return windows.pop()
    names = sorted({c for w in windows for c in w.columns if c != "_row"},
                   key=lambda c: int(c[1:]))
    frame = pl.concat([w.select("_row", *[(pl.col(c) if c in w.columns else
                                           pl.lit(None, pl.String)).alias(c) for c in names])
                       for w in windows], how="vertical", rechunk=True)
    windows.clear()
    copied = [c for c in names if c in built]
    # Any string operation writes new buffers (this one changes nothing: cells hold no NUL).
    return frame.with_columns(pl.col(copied).str.strip_prefix("\x00")) if copied else frame


def _top_rows(top: list[pl.DataFrame], columns: list[str]) -> dict[int, list[str | None]]:
    rows: dict[int, list[str | None]] = {}
    for window in top:
        for record in window.iter_rows(named=True):
            rows[record["_row"]] = [record.get(c) for c in columns]
    return rows


def _drop_blank(frame: pl.DataFrame, errors: list[tuple[int, int, str]]) -> pl.DataFrame:
    """`frame` without rows whose cells are all empty or whitespace (unless a cell holds
    an error: that row is reported, not skipped)."""
    names = frame.columns[1:]
    if not names:
        return frame.clear()
    filled = pl.any_horizontal(pl.col(n).str.strip_chars() != "" for n in names).fill_null(
        False)
    if errors:
        filled = filled | pl.col("_row").is_in([row for row, _, _ in errors])
    return frame.filter(filled)


def _unreadable(path: Path, exc: BaseException) -> SourceError:
    return SourceError(
        f"{path}: is a ZIP file but cannot be read as an XLSX workbook ({_reason(exc)}); "
        "save it again from the spreadsheet as .xlsx or as CSV")


def _reason(exc: BaseException) -> str:
    return first_line(exc, 160)


def _header(where: str, rows: dict[int, list[str | None]], header_row: int, last_row: int,
            data: list[pl.DataFrame]) -> list[str]:
    if header_row > last_row:
        raise SourceError(
            f"{where}: no header: the sheet has {last_row} rows, fewer than "
            f"{header_row} (check --header-row)")
    cells = [str(c).strip() if c is not None else "" for c in rows.get(header_row, [])]
    if any(cells):
        return cells
    later = next((int(w["_row"][0]) for w in data if w.height), None)
    if later is None:
        raise SourceError(f"{where}: no header: row {header_row} and every row after it "
                          "are empty")
    raise SourceError(f"{where}: no header: row {header_row} is empty; the first row with "
                      f"text is row {later} (pass --header-row {later} if that is the header)")


def _filled(frame: pl.DataFrame) -> list[str]:
    """The columns of `frame` (but `_row`) with a cell that is not empty or whitespace."""
    names = frame.columns[1:]
    if not names:
        return []
    found = frame.select((pl.col(n).str.strip_chars() != "").fill_null(False).any()
                         for n in names).row(0)
    return [name for name, any_text in zip(names, found, strict=True) if any_text]


def _as_shown(name: str, typed: list[str]) -> pl.Expr:
    """Dates as ISO dates: calamine's text of a date cell is the date at midnight (a
    time cell: the time on day zero). Text in `typed` was typed so and stays."""
    cell = pl.col(name)
    return (pl.when(cell.is_in(typed)).then(cell)
            .when(cell.str.ends_with(_MIDNIGHT) & (cell.str.len_bytes() == 19))
            .then(cell.str.head(10))
            .when(cell.str.starts_with(_DAY_ZERO) & (cell.str.len_bytes() == 19))
            .then(cell.str.tail(8))
            .otherwise(cell))
