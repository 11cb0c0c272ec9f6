"""Read an XLSX sheet as text cells, through polars' calamine (fastexcel) engine.

Every cell arrives as text, the way the sheet shows the value, not a re-typed one:
numbers typed as 100 are `100` (an integral number never gets `.0`, and large ones keep
all their integer digits instead of turning into `3.58401E+11`), dates are ISO text,
formulas give the value the spreadsheet saved with them. Row numbers are the sheet's.
"""

from __future__ import annotations

from pathlib import Path

import fastexcel
import polars as pl

from sync.errors import SourceError
from sync.readers.neutralise import unneutralise
from sync.readers.table import HEAD_ROWS, SourceTable, clean_text, drop_blank_rows

_READ_ERRORS = (fastexcel.FastExcelError, pl.exceptions.PolarsError, ValueError, OSError)
_MIDNIGHT = " 00:00:00"
# calamine writes a time-of-day cell as a time on its day zero.
_DAY_ZERO = "1899-12-31 "


def read_xlsx(path: Path, *, sheet: str | None = None, header_row: int = 1) -> SourceTable:
    """Read sheet `sheet` (default: the first) of the workbook at `path`; every cell text.

    Row `header_row` (the sheet's own row number) is the header; rows above it are
    ignored, blank rows below it are skipped and counted. Raises SourceError with one
    line naming the file (and the sheet or row) when the sheet cannot be read.
    """
    name = _sheet_name(path, sheet)
    try:
        grid = pl.read_excel(
            path, sheet_name=name, engine="calamine", has_header=False,
            drop_empty_rows=False, drop_empty_cols=False, raise_if_empty=False,
            # skip_rows=0 keeps the empty rows above the first filled one, so that row
            # numbers stay the sheet's; dtypes="string" is calamine's own text form.
            read_options={"header_row": None, "skip_rows": 0, "dtypes": "string"},
        )
    except _READ_ERRORS as exc:
        raise _unreadable(path, exc) from None
    grid = grid.select(pl.col(c).cast(pl.String) for c in grid.columns)
    names = [f"c{i}" for i in range(grid.width)]
    grid = grid.rename(dict(zip(grid.columns, names, strict=True)))
    where = f"{path}: sheet {name!r}"
    if grid.height == 0 or grid.width == 0:
        raise SourceError(f"{where} is empty")
    head = [(number, [cell or "" for cell in row])
            for number, row in enumerate(grid.head(HEAD_ROWS).rows(), start=1)]

    headers = _header(where, grid, header_row)
    data = grid.slice(header_row).with_row_index("_row", offset=header_row + 1)
    while headers and not headers[-1] and _all_blank(data, f"c{len(headers) - 1}"):
        headers.pop()  # columns that are empty from the header down: formatting only
    kept = [f"c{i}" for i in range(len(headers))]
    # One select for every cell rule, and the whole grid dropped before the blank-row
    # filter: fewer copies of the sheet alive at once.
    data = data.select(pl.col("_row").cast(pl.Int64),
                       *[unneutralise(clean_text(_as_shown(c))).alias(c) for c in kept])
    del grid
    data, skipped = drop_blank_rows(data, kept)
    return SourceTable(path=path, format="xlsx", encoding=None, delimiter=None,
                       header_row=header_row, headers=headers, frame=data,
                       skipped=skipped, sheet=name, head=head)


def _sheet_name(path: Path, sheet: str | None) -> str:
    try:
        names = fastexcel.read_excel(path).sheet_names
    except _READ_ERRORS as exc:
        raise _unreadable(path, exc) from None
    if not names:
        raise SourceError(f"{path}: the workbook has no sheets")
    if sheet is None:
        return names[0]
    if sheet in names:
        return sheet
    folded = {n.casefold(): n for n in names}
    if sheet.casefold() in folded:
        return folded[sheet.casefold()]
    shown = ", ".join(repr(n) for n in names)
    raise SourceError(f"{path}: no sheet named {sheet!r}; the sheets are {shown} (pass --sheet)")


def _unreadable(path: Path, exc: Exception) -> SourceError:
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
    return SourceError(
        f"{path}: is a ZIP file but cannot be read as an XLSX workbook ({reason}); "
        "save it again from the spreadsheet as .xlsx or as CSV")


def _header(where: str, grid: pl.DataFrame, header_row: int) -> list[str]:
    if header_row > grid.height:
        raise SourceError(
            f"{where}: no header: the sheet has {grid.height} rows, fewer than "
            f"{header_row} (check --header-row)")
    cells = [str(c).strip() if c is not None else "" for c in grid.row(header_row - 1)]
    if any(cells):
        return cells
    below = grid.slice(header_row).with_row_index("n", offset=header_row + 1)
    filled = below.filter(pl.any_horizontal(pl.col(c).str.strip_chars() != "" for c in
                                            grid.columns))
    if filled.height == 0:
        raise SourceError(f"{where}: no header: row {header_row} and every row after it "
                          "are empty")
    later = filled["n"][0]
    raise SourceError(f"{where}: no header: row {header_row} is empty; the first row with "
                      f"text is row {later} (pass --header-row {later} if that is the header)")


def _all_blank(frame: pl.DataFrame, name: str) -> bool:
    return bool(frame.select((pl.col(name).str.strip_chars() == "").fill_null(True).all())
                .item())


def _as_shown(name: str) -> pl.Expr:
    """Dates as ISO dates: calamine's text of a date cell is the date at midnight."""
    cell = pl.col(name)
    return (pl.when(cell.str.ends_with(_MIDNIGHT) & (cell.str.len_bytes() == 19))
            .then(cell.str.head(10))
            .when(cell.str.starts_with(_DAY_ZERO) & (cell.str.len_bytes() == 19))
            .then(cell.str.tail(8))
            .otherwise(cell))
