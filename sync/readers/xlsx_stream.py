"""Read an XLSX sheet's cells directly from its XML, a window at a time.

`xlsx_book.open_book` reads the small parts (the sheet list with each sheet's
visibility, which cell styles are dates, the 1904 flag). `stream_cells` reads one
sheet's XML in windows of decompressed text and yields each window's cells as a frame,
so a large sheet is never held whole: only the cells read so far (as the caller keeps
them) and one window.

Cells get the text calamine (the engine `read_xlsx` uses for small sheets) gives them
(`xlsx_text`), so both paths read a workbook the same way: integral numbers without
`.0` and with all their digits, other numbers in plain decimal notation, dates as
`YYYY-MM-DD HH:MM:SS`, booleans `true`/`false`, formula cells their saved value; a
number in a time-only format (`hh:mm:ss`, `[h]:mm:ss`) is the time the sheet shows
(`00:00:00`, `25:00:00`), which calamine, blind to formats, gives as a date (`read_xlsx`
streams such a sheet). Error
cells (`#N/A`, ...) have no text; their error is in column `error`. So does a date cell
whose number is negative or whose date is past 9999 (DATE_OUT_OF_RANGE): Excel shows ######## there,
and calamine's text (`+10000-01-01`) is no date a reader of ISO dates takes.

Work is done column-wise with polars on each window; the XML is split by its element
markers rather than parsed by a general XML parser. Sheet XML this does not understand
(a namespace prefix, CDATA, single-quoted attributes) raises CannotStream, and the
caller reads it again with `canonical` (rewritten by a real XML parser, see
`xlsx_canonical`) or, XML not even that reads, another way. A damaged sheet (its XML
or the string table cut off, a cell naming a shared string the workbook lacks, a cell
holding no value of its type, a number cell holding no number, a reference such as
A0) raises DamagedPart, as calamine refuses it: the file is refused whole, never read
up to the damage.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

import polars as pl

from sync.readers import xlsx_book
from sync.readers.xlsx_book import Book, DamagedPart, SheetInfo, windows
from sync.readers.xlsx_canonical import NotXml, canonical_windows
from sync.readers.xlsx_text import date_text, newlines, number_text, runs_text, time_text, unescaped

_UNSUPPORTED = ("<![CDATA[", "='")
_EMPTY_SHEET_DATA = re.compile(r"<sheetData\b[^>]*/>")


DATE_OUT_OF_RANGE = "######## (a negative date number, or a date past 9999)"
"""The error of a date cell no spreadsheet can show as a date (Excel shows ########)."""


class CannotStream(Exception):
    """The sheet's XML uses a form this reader does not handle; read it another way."""


# --- cells -------------------------------------------------------------------------

def stream_cells(book: Book, sheet: SheetInfo, *, canonical: bool = False,
                 merges: list[str] | None = None) -> Iterator[pl.DataFrame]:
    """The sheet's cells that hold a value, window by window, in sheet order.

    Each frame has `_row` (the sheet's row number, 1-based), `col` (0-based column
    index), `text` (as calamine shows it; null for an error cell), `error` (the
    error's text, `#N/A`, for an error cell, else null) and `shared` (true when the text
    is the workbook's shared string, whose bytes the book's string table holds).

    Raises DamagedPart (after yielding the rows before it) when the XML is cut off
    before `</sheetData>` or a cell holds what no spreadsheet writes: a damaged file is
    refused, never read in part. `canonical`: read XML of any spelling (a namespace
    prefix, CDATA; see `xlsx_canonical`), more slowly; else such XML raises CannotStream.
    `merges` gets the sheet's merged ranges (`C2:C4`), once its cells are read.
    """
    if sheet.part is None:
        raise KeyError(sheet.name)
    last_row = 0
    started = False
    texts = (_canonical(book, sheet.part) if canonical
             else windows(book.archive, sheet.part, "</row>"))
    for window in texts:
        if not started:
            root = _ROOT.search(window)
            if root is None or root.group(1):
                raise CannotStream("a namespace prefix")  # such as <x:worksheet>
            start = window.find("<sheetData")
            if start < 0:
                continue
            window = window[start:]
            started = True
            if _EMPTY_SHEET_DATA.match(window):
                return
        end = window.find("</sheetData>")
        cut = end < 0 and not window.endswith("</row>")  # the XML's end, mid-row
        after = ""
        if end >= 0:
            window, after = window[:end], window[end:]
        elif cut:  # read the rows before the cut (for the error's row number)
            complete = window.rfind("</row>")
            window = window[:complete + len("</row>")] if complete >= 0 else ""
        if not canonical:
            _check_supported(window)
        rows = window.split("<row")[1:]
        if rows:
            frame, last_row = _window_cells(book, rows, last_row)
            if frame.height:
                yield frame
        if end >= 0:
            if merges is not None:  # <mergeCells> follows <sheetData>
                merges.extend(merged_ranges(after))
                merges.extend(ref for rest in texts for ref in merged_ranges(rest))
            return
        if cut:
            break
    if not started:
        raise CannotStream("no <sheetData>")
    raise DamagedPart("its XML is cut off " + (f"after row {last_row}" if last_row else
                                               "before its first row"))


def _canonical(book: Book, part: str) -> Iterator[str]:
    try:
        yield from canonical_windows(book.archive, part)
    except NotXml as exc:
        raise CannotStream(f"XML that is not well formed ({exc})") from None


_MERGE_CELL = r'<(?:[\w.-]+:)?mergeCell\s[^>]*?\bref="([A-Za-z]+[0-9]+(?::[A-Za-z]+[0-9]+)?)"'
MERGE_CELL = re.compile(_MERGE_CELL.encode())


def merged_ranges(text: str) -> list[str]:
    """The ranges of the `<mergeCell ref="C2:C4"/>` elements in `text`."""
    return re.findall(_MERGE_CELL, text)


def _check_supported(text: str) -> None:
    for marker in _UNSUPPORTED:
        if marker in text:
            raise CannotStream(marker)
    # White space XML allows where no spreadsheet writes it (`<c\n r=`, `r = "A1"`,
    # `</v >`): the splits below would drop such a cell without a word (QA: a cell
    # written `<c\n r="A2"` vanished), so the XML parser's path reads the sheet. The
    # plain `in` tests first: the regex runs only on the rare windows they pass.
    if (" =" in text or "= " in text or " >" in text or "\t" in text or "\r" in text
            or "\n" in text) and _ODD_SPACE.search(text):
        raise CannotStream("white space inside a tag")


_ODD_SPACE = re.compile(r"<[^<>]*?(?:\s=|=\s)[^<>]*>|<(?:[\w.-]+:)?(?:c|row|v|t|is|f)"
                        r"[\t\r\n][^<>]*>|</[^<>\s]+\s+>")


# A spreadsheet's limits (Excel, LibreOffice): a cell beyond them is a damaged file.
MAX_ROWS, MAX_COLUMNS = 1_048_576, 16_384
# A literal ' r="' (not \s) lets the regex engine jump between candidates: 5x faster.
_ROW_REFS = re.compile(rb'<row [^>]*?r="([0-9]+)"')
_LONG_CELL_ROWS = re.compile(rb' r="[A-Za-z]+([0-9]{7,})"')  # from row 1,000,000 on
_WIDE_REFS = re.compile(rb' r="([A-Za-z]{2,})[0-9]')
# Longer than anything the survey's patterns match (a <row> tag, a cell's text).
_SURVEY_OVERLAP = 512
_VALUELESS_FORMULA = re.compile(rb'(?:</f>|<f [^>]*/>)(?:<v\s*/>|<v>\s*</v>)?</c>')
# Cells calamine reads otherwise than this reader (see `_odd`): an empty or blank value;
# a date (t="d"); an error cell without its error; a boolean holding other than 0 or 1;
# a number cell holding what is no number; a type no spreadsheet writes (calamine
# refuses it as an unreadable workbook); XML only this reader's canonical path reads
# (a namespace prefix, CDATA, single-quoted attributes).
# Each looked for apart: one pattern of alternatives is tried at every position, 3x slower.
_EMPTY_VALUE_XML = re.compile(rb"<v(?:\s[^>]*)?(?:/>|>\s*</v>)")
_ERROR_WITHOUT_ERROR = re.compile(rb'\st="e"[^>]*(?:/>|>\s*</c>)')
_NO_BOOLEAN = re.compile(rb'\st="b"[^>]*>\s*(?:<f\b[^>]*/>|<f\b[^>]*>[^<]*</f>)?\s*'
                         rb'<v(?:\s[^>]*)?>(?!\s*[01]\s*</v>)[^<]*</v>')
# An error calamine does not know (#SPILL!, #CALC!, LibreOffice's Err:502): it refuses
# the whole workbook for one such cell, even in a column the import ignores (QA).
_UNKNOWN_ERROR = re.compile(rb'\st="e"[^>]*>\s*(?:<f\b[^>]*/>|<f\b[^>]*>[^<]*</f>)?\s*'
                            rb'<v(?:\s[^>]*)?>(?!\s*(?:#DIV/0!|#N/A|#NAME\?|#NULL!|#NUM!|'
                            rb'#REF!|#VALUE!)\s*</v>)')
# t="" of a cell, or of a formula (shared, array, normal, dataTable)
_UNKNOWN_TYPE = re.compile(rb' t="(?!(?:s|n|b|e|str|inlineStr|d|shared|array|normal|dataTable)")'
                           rb'[^"]*"')
_OTHER_SPELLING = (b"<![CDATA[", b"='", b":row")  # a prefixed sheet has <x:row
_NO_NUMBER_VALUE = re.compile(rb"<v(?:\s[^>]*)?>[^<]*[^<0-9.eE+\-\s][^<]*</v>")
_TYPED = re.compile(rb'\st="(?!n")')
# A cell with content (not <c .../> nor <c ...></c>), in column A / in any column.
_IN_COLUMN_A = re.compile(rb'<c [^>]*?r="[Aa][0-9]+"[^>/]*>(?!</c>)')
_FILLED_CELL_COLUMNS = re.compile(rb'<c [^>]*?r="([A-Za-z]{1,3})[0-9]+"[^>/]*>(?!</c>)')
_FORMULA = re.compile(rb"<(?:[\w.-]+:)?f[\s>/]")
# A value of 16 digits or more (1234567890123456, 1.23456789012345E+18): IMPRECISE_NUMBERS,
# which calamine prints in full, digits a spreadsheet did not keep.
_IMPRECISE_NUMBER = (
    rb"\s*-?(?:[0-9]{16,}|[0-9](?:\.[0-9]*)?[eE]\+?(?:1[5-9]|[2-9][0-9]|[0-9]{3}))")
# A value with a fraction (0.5, 123456789.123, 1E-07): fastexcel prints such a number
# with at most 9 decimals (123456789.122999996, 3.141592654), not the digits it holds.
_FRACTIONAL_NUMBER = rb"\s*-?[0-9]*(?:\.[0-9]*[1-9]|\.?[0-9]*[eE]-)"
# Both after <v>; in a sheet with a namespace prefix (<x:v>, which calamine reads, see
# xlsx.py) after that (3 times slower, so only where a block has one).
_NUMBER_PATTERNS = {prefixed: (re.compile(start + _IMPRECISE_NUMBER),
                               re.compile(start + _FRACTIONAL_NUMBER))
                    for prefixed, start in ((False, rb"<v>"), (True, rb"<(?:[\w.-]+:)?v>"))}
FORMULA_WITHOUT_VALUE = "a formula saved without its value"
"""The error of a formula cell whose file holds no value for it (open and save the
file in a spreadsheet program to compute it)."""


class BeyondSheetLimits(ValueError):
    """A cell reference past the last row or column any spreadsheet has."""


_KINDS = ["s", "inlineStr", "str", "d", "b", "e"]  # cell types (t="..."); any other is "n"
_ROW_NUMBER = r'^[^>]*?\sr="([0-9]+)"'
_ROOT = re.compile(r"<([A-Za-z_][\w.-]*:)?worksheet[\s>]")
_CANONICAL = (r'^\s*(?:r="([^"]*)")?\s*(?:s="([0-9]+)")?\s*(?:t="([^"]*)")?\s*'
              r'(/?)$')
_CELL_REF = r'^[^>]*?\br="([^"]*)"'
# A cell reference's column letters, when it is one: letters and a row number (A1, not
# A0, A or 1A, which calamine refuses too).
_REF_LETTERS = r"^([A-Za-z]+)0*[1-9][0-9]*$"
_CELL_TYPE = r'^[^>]*?\bt="([^"]*)"'
_CELL_STYLE = r'^[^>]*?\bs="([0-9]+)"'
_VALUE = r"<v(?:\s[^>]*)?>([^<]*)</v>"
_EMPTY_VALUE = r"<v(?:\s[^>]*)?/>"  # <v/>: the same as <v></v>


def _row_numbers(rows: list[str], last_row: int) -> tuple[pl.Series, int]:
    heads = pl.Series("h", [row[:row.find(">") + 1] for row in rows], dtype=pl.String)
    given = heads.str.extract(_ROW_NUMBER, 1).cast(pl.Int64)
    if given.null_count() == 0:
        return given, int(given[-1])
    numbers = []
    for value in given.to_list():  # rows without r="": the row after the previous one
        last_row = value if value is not None else last_row + 1
        numbers.append(last_row)
    return pl.Series("_row", numbers, dtype=pl.Int64), last_row


def _window_cells(book: Book, rows: list[str], last_row: int) -> tuple[pl.DataFrame, int]:
    numbers, last_row = _row_numbers(rows, last_row)
    body = pl.Series("body", rows, dtype=pl.String)
    if any("<c>" in row or "<c/>" in row for row in rows):
        body = (body.str.replace_all("<c>", "<c >", literal=True)
                .str.replace_all("<c/>", "<c />", literal=True))
    cells = (pl.DataFrame({"_row": numbers, "c": body.str.split("<c ").list.slice(1)})
             .explode("c")
             .filter(pl.col("c").is_not_null()))
    c = pl.col("c")
    value = c.str.extract(_VALUE, 1)
    cells = cells.select("_row", "c", c.str.slice(0, c.str.find(">", literal=True))
                         .alias("head"),
                         pl.when(value.is_null() & c.str.contains(_EMPTY_VALUE))
                         .then(pl.lit("")).otherwise(value).alias("v"),
                         c.str.contains("<f", literal=True).alias("f"))
    cells = pl.concat([cells.select("_row", "c", "v", "f"), _attributes(cells["head"])],
                      how="horizontal").with_row_index("i")
    cells = cells.with_columns(_columns(_checked_refs(cells)))
    if cells.height and (cells["col"].max() >= MAX_COLUMNS  # type: ignore[operator]
                         or cells["_row"].max() > MAX_ROWS):  # type: ignore[operator]
        raise BeyondSheetLimits(f"a cell is beyond column {MAX_COLUMNS} or row {MAX_ROWS}")
    present = set(cells["t"].unique().to_list())
    if present - {*_KINDS, "n"}:  # calamine refuses such a cell too
        unknown = ~cells["t"].is_in([*_KINDS, "n"])
        row, col, kind = cells.filter(unknown).select("_row", "col", "t").row(0)
        raise DamagedPart(f"cell {_cell_name(row, col)} has the type {kind[:20]!r}, "
                          "which no spreadsheet writes")
    parts = [_kind_text(book, cells.filter(pl.col("t") == kind), kind)
             for kind in _KINDS if kind in present]
    if not parts or present - set(_KINDS):
        parts.append(_kind_text(book, cells.filter(~pl.col("t").is_in(_KINDS)), "n"))
    out = pl.concat(parts).sort("i").drop("i")
    # A formula saved without its value (<v/> or none: openpyxl and other libraries
    # write formulas so) has no value anyone could read; like an error cell, it is
    # never read as an empty cell.
    # So is every formula of a workbook that says its saved values are not computed
    # (fullCalcOnLoad: xlsxwriter saves a formula written without its value as 0).
    formula = pl.col("f")
    if book.formulas_uncomputed:
        uncomputed = cells["f"]
        if uncomputed.any():
            out = out.with_columns(
                pl.when(uncomputed).then(None).otherwise(pl.col("text")).alias("text"),
                pl.when(uncomputed).then(pl.lit(FORMULA_WITHOUT_VALUE))
                .otherwise(pl.col("error")).alias("error"))
    # No value read, no <v>, or an empty one: only a text result (t="str", as Excel
    # saves `=""`) can be empty, and only when its <v> is there.
    value, kind = pl.col("v"), pl.col("t")
    valueless = cells.select(formula & (
        pl.lit(out["text"].is_null()) | (value.is_null() & (kind == "str"))
        | ((value.str.strip_chars() == "") & ~kind.is_in(["str", "inlineStr"]))
    ).fill_null(False)).to_series()
    if valueless.any():
        unread = valueless & out["error"].is_null()
        out = out.with_columns(
            pl.when(unread).then(None).otherwise(pl.col("text")).alias("text"),
            pl.when(unread).then(pl.lit(FORMULA_WITHOUT_VALUE))
            .otherwise(pl.col("error")).alias("error"))
    out = out.filter(pl.col("text").is_not_null() | pl.col("error").is_not_null())
    return out, last_row


def _attributes(head: pl.Series) -> pl.DataFrame:
    """`ref` (column letters), `t` (type, default "n") and `s` (style) of each cell.

    One pattern reads the attributes in the order spreadsheet programs write them
    (r, s, t); cells with other attributes or another order are read one by one.
    """
    found = head.str.extract_groups(_CANONICAL).struct.unnest()
    out = found.select(pl.col("1").alias("ref"), pl.col("3").alias("t"),
                       pl.col("2").alias("s"))
    other = found["4"].is_null()
    if other.any():
        rest = head.filter(other)
        fixed = pl.DataFrame({"ref": rest.str.extract(_CELL_REF, 1),
                              "t": rest.str.extract(_CELL_TYPE, 1),
                              "s": rest.str.extract(_CELL_STYLE, 1)})
        index = other.arg_true()
        out = pl.DataFrame({name: out[name].scatter(index, fixed[name])
                            for name in ("ref", "t", "s")})
    return out.with_columns(pl.col("t").fill_null("n"), pl.col("s").cast(pl.Int64))


def _kind_text(book: Book, cells: pl.DataFrame, kind: str) -> pl.DataFrame:
    """`i`, `_row`, `col`, `text`, `error` of cells of one type (`t` attribute)."""
    keep = cells.select("i", "_row", "col")
    error = pl.Series("error", [None] * cells.height, dtype=pl.String)
    if kind == "s":
        text = _shared_lookup(book, cells)
    elif kind == "inlineStr":
        text = unescaped(runs_text(cells["c"]))
    elif kind == "str":
        text = unescaped(cells.select(newlines(pl.col("v")).fill_null("")).to_series())
    elif kind == "d":
        text = _iso_dates(cells)
    elif kind == "b":
        text = _booleans(cells)
    elif kind == "e":  # an error cell whose error is not named is one all the same
        text = pl.Series([None] * cells.height, dtype=pl.String)
        error = unescaped(cells["v"].str.strip_chars())
        error = error.set(error == "", None).fill_null("#ERROR")
    else:
        text, error = _numbers(book, cells)
    return keep.with_columns(text.alias("text"), error.alias("error"),
                             pl.lit(kind == "s").alias("shared"))


def _refuse(cells: pl.DataFrame, wrong: pl.Series, kind: str, which: str) -> None:
    """DamagedPart naming the first of `cells` that is `wrong`: "cell C2 is a `kind`
    cell holding 'abc', `which`"."""
    row, col, value = cells.filter(wrong).select("_row", "col", "v").row(0)
    raise DamagedPart(f"cell {_cell_name(row, col)} is a {kind} cell holding "
                      f"{value.strip()[:20]!r}, {which}")


_TRUE, _FALSE = ("1", "true"), ("0", "false")


def _booleans(cells: pl.DataFrame) -> pl.Series:
    """Boolean cells as `true`/`false` (0/1, as spreadsheets save them, or the words);
    DamagedPart for one holding anything else, an empty value too: which it meant is
    unknown (calamine reads all but 0 as true). A formula's empty value is left null
    (see FORMULA_WITHOUT_VALUE)."""
    value = cells["v"].str.strip_chars().str.to_lowercase()
    known = value.is_in([*_TRUE, *_FALSE])
    wrong = value.is_not_null() & ~known & ~((value == "") & cells["f"])
    if wrong.any():
        _refuse(cells, wrong, "boolean", "which is no boolean (0 or 1)")
    return cells.select(pl.when(value.is_in(_TRUE)).then(pl.lit("true"))
                        .when(value.is_in(_FALSE)).then(pl.lit("false"))).to_series()


# An ISO 8601 date cell (t="d"): a date, a date and time, or a time of day.
_ISO_DATE = (r"^(?:([0-9]{4}-[0-9]{2}-[0-9]{2})(?:T|$))?"
             r"(?:([0-9]{2}:[0-9]{2})(:[0-9]{2})?(\.[0-9]+)?Z?)?$")


def _iso_dates(cells: pl.DataFrame) -> pl.Series:
    """Date cells saved as ISO 8601 text (t="d", `2024-03-01T00:00:00`) as the text of
    a date cell saved as a number (`2024-03-01 00:00:00`, a time of day on day zero,
    `1899-12-31 10:30:00`), which the reader then shows as a number date cell is shown;
    DamagedPart for one holding no date (as a number cell holding no number)."""
    value = cells["v"].str.strip_chars()
    found = value.str.extract_groups(_ISO_DATE).struct.unnest()
    millis = pl.col("4").str.slice(1, 3).str.pad_end(3, "0")
    shown = found.select(pl.concat_str(
        pl.col("1").fill_null("1899-12-31"), pl.lit(" "), pl.col("2").fill_null("00:00"),
        pl.col("3").fill_null(":00"),
        pl.when(millis.is_null() | (millis == "000")).then(pl.lit(""))
        .otherwise(pl.lit(".") + millis))).to_series()
    real = shown.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False).is_not_null()
    matched = ((found["1"].is_not_null() | found["2"].is_not_null()) & real).fill_null(False)
    wrong = value.is_not_null() & ~matched & ~((value == "") & cells["f"])
    if wrong.any():
        _refuse(cells, wrong, "date", "which is no date")
    return shown.set(~matched, None).alias("text")


def _checked_refs(cells: pl.DataFrame) -> pl.DataFrame:
    """`cells` with `ref` as the column letters of each cell reference (`A` for A1);
    DamagedPart for a reference that is none (A0, 1A, empty)."""
    letters = cells["ref"].str.extract(_REF_LETTERS, 1)
    wrong = letters.is_null() & cells["ref"].is_not_null()
    if wrong.any():
        row, ref = cells.filter(wrong).select("_row", "ref").row(0)
        raise DamagedPart(f"row {row} has a cell with the reference {ref[:20]!r}, "
                          "which names no cell")
    return cells.with_columns(letters.alias("ref"))


def _columns(cells: pl.DataFrame) -> pl.Series:
    refs = cells["ref"]
    if refs.null_count() == 0:
        letters = refs.unique().to_list()
        index = {ref: _column_index(ref) for ref in letters}
        return refs.replace_strict(index, return_dtype=pl.Int64).alias("col")
    if refs.null_count() == refs.len():  # no references: each cell follows the last
        position = pl.int_range(pl.len(), dtype=pl.Int64).over("_row")
        return cells.select(position.alias("col")).to_series()
    out: list[int] = []
    previous_row, col = None, -1
    for row, ref in zip(cells["_row"].to_list(), refs.to_list(), strict=True):
        if row != previous_row:
            previous_row, col = row, -1
        col = _column_index(ref) if ref is not None else col + 1
        out.append(col)
    return pl.Series("col", out, dtype=pl.Int64)


@dataclass
class SheetSurvey:
    """What one pass over a sheet's XML tells before it is read."""

    rows: int = 0  # the last row a cell is in, at most
    columns: int = 0  # the farthest column, exactly from two letters (AA) on, else 26
    valueless: bool = False  # a formula was saved without its value
    imprecise: bool = False  # a number of 16 digits or more (see IMPRECISE_NUMBERS)
    fractional: bool = False  # a value with a fraction (a number that is no integer)
    formulas: bool = False  # a cell holds a formula
    odd: bool = False  # a cell calamine reads otherwise (see _ODD_CELL)
    timed: bool = False  # a cell is in a time-only style (calamine shows no style)
    first_column: int = MAX_COLUMNS  # the leftmost column a cell with content is in
    merges: set[str] = field(default_factory=set)  # merged ranges, "C2:C4"
    texts: set[str] = field(default_factory=set)  # matches of the caller's pattern


def survey_sheet(book: Book, sheet: SheetInfo, texts: re.Pattern[bytes] | None = None,
                 hints: tuple[bytes, ...] = ()) -> SheetSurvey:
    """One pass over the sheet's XML as bytes, block by block: how far its cells reach
    (from row numbers and cell references, not its <dimension>, which a program may
    leave wrong), whether a formula lacks its value, a number has 16 digits or more or
    a value has a fraction, and the text between tags that matches `texts` (looked for
    only in blocks holding one of `hints`)."""
    found = SheetSurvey()
    if sheet.part is None:
        return found
    timed = _style_pattern(book.time_styles)
    tail = b""
    with book.archive.open(sheet.part) as handle:
        while block := handle.read(xlsx_book.WINDOW_BYTES):
            # Each block is looked at with the end of the one before: whatever a block's
            # end cuts in two is whole there (seen twice is harmless: maxima and sets).
            data = tail + block
            _survey_block(found, data, texts, hints)
            found.timed = found.timed or (timed is not None and timed.search(data) is not None)
            tail = data[-_SURVEY_OVERLAP:]
    return found


def _style_pattern(styles: Collection[int]) -> re.Pattern[bytes] | None:
    """The `s="..."` attribute of a cell in one of the cell styles `styles` (None for
    none)."""
    if not styles:
        return None
    indices = b"|".join(str(index).encode() for index in sorted(styles))
    return re.compile(rb'\ss="0*(?:' + indices + rb')"')


def _survey_block(found: SheetSurvey, data: bytes, texts: re.Pattern[bytes] | None,
                  hints: tuple[bytes, ...]) -> None:
    numbers = _ROW_REFS.findall(data) + _LONG_CELL_ROWS.findall(data)
    if numbers:
        found.rows = max(found.rows, *map(int, numbers))
    letters = _WIDE_REFS.findall(data)
    if letters:
        widest = max(letters, key=lambda r: (len(r), r)).decode()
        found.columns = max(found.columns, _column_index(widest) + 1)
    elif not found.columns and b' r="' in data:
        found.columns = 26
    found.valueless = found.valueless or _VALUELESS_FORMULA.search(data) is not None
    found.formulas = found.formulas or _FORMULA.search(data) is not None
    found.odd = found.odd or _odd(data)
    if found.first_column and _IN_COLUMN_A.search(data):
        found.first_column = 0
    elif found.first_column:
        found.first_column = min([found.first_column, *map(
            _column_index, (ref.decode() for ref in _FILLED_CELL_COLUMNS.findall(data)))])
    if b"mergeCell" in data:
        found.merges.update(m.decode() for m in MERGE_CELL.findall(data))
    imprecise, fractional = _NUMBER_PATTERNS[b":v>" in data]
    found.imprecise = found.imprecise or imprecise.search(data) is not None
    found.fractional = found.fractional or fractional.search(data) is not None
    if texts is not None and any(hint in data for hint in hints):
        found.texts.update(m.decode() for m in texts.findall(data))


def _odd(data: bytes) -> bool:
    """Does `data` hold a cell calamine reads otherwise than this reader?"""
    return (any(marker in data for marker in _OTHER_SPELLING) or b' t="d"' in data
            or (b' t="e"' in data and (_ERROR_WITHOUT_ERROR.search(data) is not None
                                       or _UNKNOWN_ERROR.search(data) is not None))
            or (b' t="b"' in data and _NO_BOOLEAN.search(data) is not None)
            or _EMPTY_VALUE_XML.search(data) is not None
            or _UNKNOWN_TYPE.search(data) is not None or _no_number(data))


def _no_number(data: bytes) -> bool:
    """Does a number cell (no type, or t="n") in `data` hold what is no number?"""
    for match in _NO_NUMBER_VALUE.finditer(data):
        start = data.rfind(b"<c", 0, match.start())
        if start >= 0 and _TYPED.search(data, start, data.find(b">", start)) is None:
            return True
    return False


def _column_index(ref: str) -> int:
    number = 0
    for ch in ref.upper():
        number = number * 26 + ord(ch) - 64
    return number - 1


def _shared_lookup(book: Book, cells: pl.DataFrame) -> pl.Series:
    """The shared strings that cells of type "s" name; DamagedPart for a cell naming a
    string the workbook does not have (its index is no number, or past the last)."""
    values = cells["v"].str.strip_chars()
    index = values.cast(pl.Int64, strict=False)
    if index.len() == 0:
        return pl.Series("text", [], dtype=pl.String)
    unnamed = (values == "") & ~cells["f"]
    if unnamed.any():
        _refuse(cells, unnamed, "shared-string", "which names no shared string")
    shared = book.shared()
    valid = index.is_between(0, shared.len() - 1).fill_null(False)
    if not valid.all():
        wrong = ~valid & values.is_not_null() & (values != "")
        if wrong.any():
            row, col, value = cells.filter(wrong).select("_row", "col", "v").row(0)
            raise DamagedPart(f"cell {_cell_name(row, col)} names shared string "
                              f"{value.strip()[:20]!r}, which the workbook does not have "
                              f"(it has {shared.len():,})")
        index = index.set(~valid, None)
    return shared.gather(index)


def _cell_name(row: int, col: int) -> str:
    """A1 for row 1, column 0."""
    letters = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return f"{letters}{row}"


def _numbers(book: Book, cells: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """Number cells (`t` absent or "n") as calamine's text; dates by their cell style.

    Also the error column: a date cell whose number is negative or whose date is past 9999 has no
    text and the error DATE_OUT_OF_RANGE.
    """
    number = cells["v"].str.strip_chars()
    number = number.set(number == "", None) if (number == "").any() else number
    wrong = number.is_not_null() & number.cast(pl.Float64, strict=False).is_null()
    if wrong.any():  # calamine refuses such a cell (t="n") too
        _refuse(cells, wrong, "number", "which is no number")
    dates = [i for i, is_date in enumerate(book.date_styles) if is_date]
    is_date = cells["s"].is_in(dates).fill_null(False) if dates else None
    error = pl.Series("error", [None] * cells.height, dtype=pl.String)
    if is_date is None or not is_date.any():
        return _padded(book, cells, number_text(number)), error
    text = _padded(book, cells, number_text(number.set(is_date, None)))
    shown = date_text(number.filter(is_date), book.date1904)
    where = is_date.arg_true()
    text = text.scatter(where, shown)
    outside = shown.is_null() & number.filter(is_date).cast(pl.Float64, strict=False).is_not_null()
    if outside.any():
        error = error.scatter(where.filter(outside), DATE_OUT_OF_RANGE)
    return _times(book, cells, number, text), error


def _times(book: Book, cells: pl.DataFrame, number: pl.Series, text: pl.Series) -> pl.Series:
    """`text` with the numbers in a time-only style (`hh:mm:ss`, `[h]:mm`) as the time
    the sheet shows (`time_text`): 0 is `00:00:00`, not day zero's date, and 1.0416667
    `25:00:00` or `01:00:00`. A negative number or one past 9999's last day (no time a
    spreadsheet shows; `text` is null there) keeps its text."""
    if not book.time_styles:
        return text
    style = cells["s"]
    timed = (style.is_in(list(book.time_styles)).fill_null(False) & text.is_not_null()
             & (number.cast(pl.Float64, strict=False) >= 0).fill_null(False))
    if not timed.any():
        return text
    style = style.filter(timed)
    formats = book.time_styles.items()
    elapsed = style.replace_strict({i: f.elapsed for i, f in formats}, return_dtype=pl.Boolean)
    decimals = style.replace_strict({i: f.decimals for i, f in formats}, return_dtype=pl.Int64)
    return text.scatter(timed.arg_true(), time_text(number.filter(timed), elapsed, decimals))


def _padded(book: Book, cells: pl.DataFrame, text: pl.Series) -> pl.Series:
    """Integers in a zero-padding style ("0000") as the sheet shows them: 42 -> 0042."""
    if not book.padded_styles:
        return text
    width = cells["s"].replace_strict(book.padded_styles, default=None,
                                      return_dtype=pl.Int64)
    pad = width.is_not_null() & text.str.contains(r"^[0-9]+$").fill_null(False)
    if not pad.any():
        return text
    return pl.select(pl.when(pad).then(
        pl.lit(text).str.zfill(pl.lit(width))).otherwise(pl.lit(text))).to_series().alias(
        text.name)

