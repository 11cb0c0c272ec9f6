"""SourceTable: what every reader returns, and the cell clean-up every reader shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

HEAD_ROWS = 10
"""How many of a file's first rows a reader keeps in `SourceTable.head`."""

# A whole cell ="..." (inner quotes doubled): a spreadsheet's guard keeping text as text.
_TEXT_GUARD = r'(?s)^="((?:[^"]|"")*)"$'
# A combining mark (Unicode category M): a letter written decomposed holds one.
_COMBINING = r"\p{M}"
# The first bytes of the marks the letters of the languages here decompose into
# (U+0300-U+036F) in UTF-8: a UTF-8 file without either holds no such letter.
UTF8_MARK_LEADS = (b"\xcc", b"\xcd")


@dataclass
class SourceTable:
    """A source file read as text cells, with what the reader noticed on the way.

    `frame` holds column "_row" (Int64 spreadsheet row number) and then one String column
    per header cell, named "c0", "c1", ... by position; empty cells are null. Rows whose
    cell count differs from the header's are not in `frame` but in `ragged` as
    (row number, cell count); blank and all-empty rows are only counted in `skipped`.
    `head` holds the file's first rows as read, header or not, as (row number, cells):
    enough to tell a user which row looks like the header when the one used does not.
    `cell_errors` lists the cells that hold a spreadsheet error (`#N/A`, `#DIV/0!`, ...)
    as (row number, column name "c0"..., the error as the sheet shows it); such a cell
    is null in `frame`. `cell_warnings` lists cells read as they are that the user may
    see otherwise (a cell a merged range covers) as (row number, column name, why).
    `first_column`: the spreadsheet column (0 for A) of "c0", for a sheet.
    """

    path: Path
    format: str
    encoding: str | None
    delimiter: str | None
    header_row: int
    headers: list[str]
    frame: pl.DataFrame
    ragged: list[tuple[int, int]] = field(default_factory=list)
    skipped: int = 0
    sheet: str | None = None
    head: list[tuple[int, list[str]]] = field(default_factory=list)
    cell_errors: list[tuple[int, str, str]] = field(default_factory=list)
    encoding_doubt: str | None = None  # another encoding nearly as likely, and what it reads
    cell_warnings: list[tuple[int, str, str]] = field(default_factory=list)
    # The sheet column (0 = A) of the first header cell, asked for when a message names a
    # column by its letter; None where the source has no letters (Parquet, Arrow, tables)
    # or they can't be told.
    first_column: Callable[[], int | None] = lambda: None


def column_letters(index: int) -> str:
    """A spreadsheet's letters for column `index` (0 = A, 25 = Z, 26 = AA)."""
    letters = ""
    number = index + 1
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def column_label(table: SourceTable, position: int) -> str:
    """Column `position` (0-based, among the table's headers) as a user finds it: its
    number, and its letters where the source has them: "2 (B)"."""
    first = table.first_column()
    return f"{position + 1}" if first is None else (
        f"{first + position + 1} ({column_letters(first + position)})")


IMPRECISE_NUMBERS = 1e15
"""From here on (16 digits before the point) a floating-point number's digits can't be
trusted: a spreadsheet keeps 15 significant digits, so 1234567890123457 typed into a
number cell is saved as 1234567890123460, and from 2**53 on a double holds no exact
integer at all (printing 1.23456789012345E+18 in full, 1234567890123450112, would make
up digits). Such a number keeps the scientific form a spreadsheet shows."""

EXACT_FLOATS = 2.0 ** 53
"""From here on a double holds no exact integer: the limit for floating-point columns of
Parquet and Arrow files, which no spreadsheet wrote (pandas writes an integer column with
gaps as float64, every integer below this exact)."""


def imprecise_number_text(value: float) -> str:
    """A number of at least IMPRECISE_NUMBERS as a spreadsheet shows it, in scientific
    form with the digits it holds (`1.23456789012346E+15`, `1.23456789012345E+18`), never
    with digits it does not: a key field then rejects it as digits lost, as it does the
    text a spreadsheet saved. The text reads back as exactly `value`."""
    text = repr(float(value))
    if "e" in text:
        return text.replace("e", "E")
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, _, fraction = digits.partition(".")
    rest = (whole[1:] + fraction).rstrip("0")
    return f"{sign}{whole[0]}{'.' + rest if rest else ''}E+{len(whole) - 1}"


def clean_cell(name: str) -> pl.Expr:
    """Column `name` with the text guard `="..."` unwrapped and empty cells made null."""
    return clean_text(pl.col(name)).alias(name)


def blank_to_null(name: str) -> pl.Expr:
    """Column `name` with empty cells made null, every other value exactly as it is.

    For sources no spreadsheet wrote (Parquet, Arrow, database tables): a value that
    looks like a text guard (`="00100"`) is the value itself there, as an export to
    Parquet writes it, so unwrapping it would change the register on a round trip.
    """
    return pl.when(pl.col(name) != "").then(pl.col(name)).alias(name)


def clean_text(cell: pl.Expr) -> pl.Expr:
    """`cell` (text) with the text guard `="..."` unwrapped and empty cells made null."""
    unwrapped = cell.str.extract(_TEXT_GUARD, 1).str.replace_all('""', '"', literal=True)
    # starts_with first: polars then runs the regex only on rows that pass (~10x faster)
    value = pl.when(cell.str.starts_with('="')).then(pl.coalesce(unwrapped, cell)).otherwise(cell)
    return pl.when(value != "").then(value)


def composed(cell: pl.Expr) -> pl.Expr:
    """`cell` in Unicode NFC where it holds a combining mark; as it is elsewhere."""
    return pl.when(cell.str.contains(_COMBINING)).then(cell.str.normalize("NFC")).otherwise(cell)


def compose_letters(table: SourceTable) -> None:
    """Compose (Unicode NFC) the letters of `table`'s cells written decomposed.

    Text saved on a Mac, or copied from some PDFs, spells "ä" as "a" and a combining
    diaeresis (NFD): it looks the same but compares unequal to the register's "ä", so a
    name would match no one and a group would be created twice. Only the columns, and
    in them the cells, that hold a combining mark are composed: most files have none,
    and normalising every cell costs several times the whole clean-up.
    """
    names = [c for c in table.frame.columns if c != "_row"]
    if not names or table.frame.is_empty():
        return
    marked = table.frame.select(pl.col(c).str.contains(_COMBINING).any() for c in names).row(0)
    columns = [c for c, has in zip(names, marked, strict=True) if has]
    if columns:
        table.frame = table.frame.with_columns(
            composed(pl.col(c)).alias(c) for c in columns)


def drop_blank_rows(frame: pl.DataFrame, names: list[str]) -> tuple[pl.DataFrame, int]:
    """`frame` without rows whose cells `names` are all null or whitespace; and how many."""
    if not names:
        return frame.clear(), frame.height
    blank = frame.select(pl.all_horizontal(
        pl.col(n).is_null() | (pl.col(n).str.strip_chars() == "") for n in names)).to_series()
    count = blank.sum()
    if not count:
        return frame, 0  # no filter, so no second copy of the data
    return frame.filter(~blank), count
