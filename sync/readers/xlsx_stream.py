"""Read an XLSX workbook's parts directly: sheet list, styles, shared strings, cells.

`open_book` reads the small parts (the sheet list with each sheet's visibility, which
cell styles are dates, the 1904 flag). `stream_cells` reads one sheet's XML in windows
of decompressed text and yields each window's cells as a frame, so a large sheet is
never held whole: only the cells read so far (as the caller keeps them) and one window.

Cells get the text calamine (the engine `read_xlsx` uses for small sheets) gives them,
so both paths read a workbook the same way: integral numbers without `.0` and with all
their digits, other numbers in plain decimal notation, dates as `YYYY-MM-DD HH:MM:SS`,
booleans `true`/`false`, formula cells their saved value. Error cells (`#N/A`, ...) have
no text; their error is in column `error`. So does a date cell whose date is before year
1 or past 9999 (DATE_OUT_OF_RANGE): Excel shows ######## there, and calamine's text
(`+10000-01-01`) is no date a reader of ISO dates takes.

Work is done column-wise with polars on each window; the XML is split by its element
markers rather than parsed by a general XML parser. Sheet XML this does not understand
(a namespace prefix, CDATA, single-quoted attributes) raises CannotStream, and the
caller reads the sheet another way.
"""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import polars as pl

_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_OFFICE_DOC = "/officeDocument"
WINDOW_BYTES = 1 << 20  # decompressed sheet XML handled at once
_BUILTIN_DATES = frozenset({*range(14, 23), 45, 46, 47})
_EPS = 2.220446049250313e-16
_INT_LIMIT = 2.0 ** 53
_ENTITY = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|amp|lt|gt|quot|apos);")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_TEXT_RUN = r"<t(?:\s[^>]*)?>[^<]*</t>"
_ONE_RUN = r"<t(?:\s[^>]*)?>([^<]*)</t>"
_EMPTY_RUN = r"<t(?:\s[^>]*)?/>"
_PRESERVE = 'xml:space="preserve"'
_PHONETIC = r"(?s)<rPh\b.*?</rPh>"
_UNSUPPORTED = ("<![CDATA[", "='")


DATE_OUT_OF_RANGE = "######## (a date before year 1 or past 9999)"
"""The error of a date cell no spreadsheet can show as a date (Excel shows ########)."""


class CannotStream(Exception):
    """The sheet's XML uses a form this reader does not handle; read it another way."""


@dataclass
class SheetInfo:
    name: str
    part: str | None  # the sheet's XML in the archive
    state: str  # "visible", "hidden" or "veryHidden"


@dataclass
class Book:
    """The parts of a workbook a sheet read needs, read once."""

    archive: zipfile.ZipFile
    sheets: list[SheetInfo]
    date1904: bool = False
    date_styles: list[bool] = field(default_factory=list)
    # Cell style (xf) index -> digits a number format of only zeros ("00000") pads an
    # integer to: the sheet shows 42 as 0042 under "0000".
    padded_styles: dict[int, int] = field(default_factory=dict)
    shared_part: str | None = None
    _shared: pl.Series | None = None

    def shared(self) -> pl.Series:
        """The shared strings, in order (read on first use)."""
        if self._shared is None:
            self._shared = _read_shared(self.archive, self.shared_part)
        return self._shared

    def part_size(self, sheet: SheetInfo) -> int:
        if sheet.part is None:
            return 0
        try:
            return self.archive.getinfo(sheet.part).file_size
        except KeyError:
            return 0

    def close(self) -> None:
        self.archive.close()


def open_book(path: Path) -> Book:
    """The workbook at `path`: its sheets (with visibility), date styles, 1904 flag.

    Raises zipfile.BadZipFile, KeyError, ET.ParseError or OSError for a broken workbook.
    """
    archive = _Archive(path)
    try:
        book_part = _office_document(archive)
        rels = _relationships(archive, book_part)
        root = ET.fromstring(archive.read(book_part))
        sheets = []
        for node in _named(root, "sheet"):
            ident = next((v for k, v in node.attrib.items() if k.endswith("}id")), "")
            target = rels.get(ident)
            sheets.append(SheetInfo(name=node.get("name") or "", part=target and target[1],
                                    state=node.get("state") or "visible"))
        date1904 = any((pr.get("date1904") or "").lower() in ("1", "true")
                       for pr in _named(root, "workbookPr"))
        by_type = {kind: part for kind, part in rels.values()}
        styles = by_type.get("/styles")
        return Book(archive=archive, sheets=sheets, date1904=date1904,
                    date_styles=_date_styles(archive, styles),
                    padded_styles=_padded_styles(archive, styles),
                    shared_part=by_type.get("/sharedStrings"))
    except BaseException:
        archive.close()
        raise


class _Archive(zipfile.ZipFile):
    """A ZipFile whose damaged members raise BadZipFile: zipfile itself reports a damaged
    flag bit as "is encrypted" (RuntimeError) and an unknown compression method or zip
    version as NotImplementedError."""

    def __init__(self, path: Path) -> None:
        try:
            super().__init__(path)
        except RuntimeError as exc:  # "zip file version 23.5", read from the directory
            raise zipfile.BadZipFile(str(exc)) from None

    def open(self, name: Any, mode: Any = "r", pwd: bytes | None = None, *,
             force_zip64: bool = False) -> IO[bytes]:
        try:
            return super().open(name, mode, pwd, force_zip64=force_zip64)
        except RuntimeError as exc:  # NotImplementedError is one too
            raise zipfile.BadZipFile(str(exc)) from None


def _office_document(archive: zipfile.ZipFile) -> str:
    for kind, part in _relationships(archive, "").values():
        if kind == _OFFICE_DOC:
            return part
    return "xl/workbook.xml"


def _relationships(archive: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """Id -> (type suffix such as "/styles", target part) of `part`'s relationships."""
    folder, name = posixpath.split(part)
    rels_part = posixpath.join(folder, "_rels", f"{name}.rels")
    try:
        root = ET.fromstring(archive.read(rels_part))
    except KeyError:
        return {}
    out = {}
    for node in root.iter(f"{_PKG_REL}Relationship"):
        target = node.get("Target") or ""
        if node.get("TargetMode") == "External":
            continue
        target = target.lstrip("/") if target.startswith("/") else \
            posixpath.normpath(posixpath.join(folder, target))
        kind = (node.get("Type") or "").rsplit("/", 1)[-1]
        out[node.get("Id") or ""] = (f"/{kind}", target)
    return out


def _cell_formats(archive: zipfile.ZipFile, part: str | None) -> list[tuple[str, str | None]]:
    """For each cell style (xf) index: its number format id and the workbook's own
    format code for it (None for a built-in format)."""
    if part is None:
        return []
    try:
        root = ET.fromstring(archive.read(part))
    except KeyError:
        return []
    formats = {node.get("numFmtId"): node.get("formatCode") or ""
               for node in _named(root, "numFmt")}
    xfs = next(iter(_named(root, "cellXfs")), None)
    idents = [xf.get("numFmtId") or "0"
              for xf in ([] if xfs is None else [n for n in xfs if _local(n.tag) == "xf"])]
    return [(ident, formats.get(ident)) for ident in idents]


def _date_styles(archive: zipfile.ZipFile, part: str | None) -> list[bool]:
    """For each cell style (xf) index: is a number in that style a date or time?"""
    return [is_date_format(code) if code is not None
            else ident.isdigit() and int(ident) in _BUILTIN_DATES
            for ident, code in _cell_formats(archive, part)]


_ZEROS = re.compile(r"0{2,}")


def _padded_styles(archive: zipfile.ZipFile, part: str | None) -> dict[int, int]:
    """Cell style index -> width, for styles whose format shows a number as zero-padded
    digits only ("0000"; its first section, for positive numbers)."""
    out = {}
    for index, (_, code) in enumerate(_cell_formats(archive, part)):
        found = _ZEROS.fullmatch((code or "").split(";")[0])
        if found:
            out[index] = len(found.group(0))
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _named(root: ET.Element, name: str) -> list[ET.Element]:
    """The elements called `name` in any namespace (transitional or strict OOXML)."""
    return [node for node in root.iter() if _local(node.tag) == name]


def is_date_format(code: str) -> bool:
    """Does a number format show its number as a date, time or duration? (calamine's rule)"""
    escaped = quoted = ampm = hms = False
    brackets = 0
    prev = " "
    for ch in code:
        if escaped:
            escaped = False
        elif ch in "_\\*":
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif ch == '"':
            quoted = True
        elif ch == ";":
            return False
        elif ch == "[":
            brackets += 1
        elif ch == "]" and brackets == 1 and hms:
            return True
        elif ch == "]":
            brackets = max(brackets - 1, 0)
        elif ch in "aA" and not ampm and brackets == 0:
            ampm = True
        elif ch in "pm/PM" and ampm and brackets == 0:
            return True
        elif ch in "dmhysDMHYS" and not ampm and brackets == 0:
            return True
        elif not (hms and ch.lower() == prev.lower()):
            hms = prev == "[" and ch in "mhsMHS"
        prev = ch
    return False


# --- text --------------------------------------------------------------------------


def _unescape_one(text: str) -> str:
    def entity(match: re.Match[str]) -> str:
        name = match.group(1)
        if name[0] == "#":
            return chr(int(name[2:], 16) if name[1] in "xX" else int(name[1:]))
        return _NAMED[name]

    text = _ENTITY.sub(entity, text) if "&" in text else text
    if "_x" in text:
        text = _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return text


def _newlines(raw: pl.Expr) -> pl.Expr:
    """XML's line-end normalisation: CR LF and CR read as LF (an escaped CR stays)."""
    return raw.str.replace_all("\r\n", "\n", literal=True).str.replace_all("\r", "\n",
                                                                            literal=True)


def _unescaped(text: pl.Series) -> pl.Series:
    """`text` with XML entities and OOXML's _xHHHH_ escapes undone (Python only for the
    few values that hold one)."""
    mask = (text.str.contains("&", literal=True) | text.str.contains("_x", literal=True)
            ).fill_null(False)
    if not mask.any():
        return text
    fixed = [_unescape_one(value) for value in text.filter(mask).to_list()]
    return text.scatter(mask.arg_true(), fixed)


def _runs_text(xml: pl.Series) -> pl.Series:
    """The text of string elements (`<si>`, `<is>`): their `<t>` runs joined, phonetic
    runs left out. One plain `<t>` (the usual form) is read by one pattern; the rest
    (rich text) run by run. A run without xml:space="preserve" loses its leading and
    trailing whitespace, as calamine reads it."""
    rich = (xml.str.contains("<r>", literal=True) | xml.str.contains("<r ", literal=True)
            | xml.str.contains("<rPh", literal=True)).fill_null(False)
    text = pl.select(_trimmed(xml.str.extract(_ONE_RUN, 1),
                              xml.str.contains(_PRESERVE, literal=True))).to_series()
    if rich.any():
        run = pl.element()
        runs = (xml.filter(rich).str.replace_all(_PHONETIC, "").str.extract_all(_TEXT_RUN)
                .list.eval(_trimmed(run.str.replace(r"^<t(?:\s[^>]*)?>", "")
                                    .str.strip_suffix("</t>"),
                                    run.str.contains(_PRESERVE, literal=True)))
                .list.join(""))
        text = text.scatter(rich.arg_true(), runs)
    empty = xml.str.contains(_EMPTY_RUN).fill_null(False) & text.is_null()
    if empty.any():
        text = text.set(empty, "")
    return pl.select(_newlines(pl.lit(text))).to_series()


def _trimmed(text: pl.Expr | pl.Series, preserved: pl.Expr | pl.Series) -> pl.Expr:
    if isinstance(text, pl.Series):
        text = pl.lit(text)
    if isinstance(preserved, pl.Series):
        preserved = pl.lit(preserved)
    return pl.when(preserved).then(text).otherwise(text.str.strip_chars(" \t\r\n"))


def _read_shared(archive: zipfile.ZipFile, part: str | None) -> pl.Series:
    if part is None:
        return pl.Series("shared", [], dtype=pl.String)
    pieces: list[pl.Series] = []
    for window in _windows(archive, part, "</si>"):
        items = window.split("<si")[1:]
        raw = pl.Series("si", items, dtype=pl.String)
        pieces.append(_unescaped(_runs_text(raw)).fill_null("").alias("shared"))
    if not pieces:
        return pl.Series("shared", [], dtype=pl.String)
    # One chunk in new, large buffers (any string operation writes new ones; the text has
    # no NUL): the pieces' small buffers would each keep pages of the allocator half used.
    return pl.concat(pieces, rechunk=True).str.strip_prefix("\x00")


def _windows(archive: zipfile.ZipFile, part: str, end_tag: str) -> Iterator[str]:
    """The part's text in windows that each end just after an `end_tag`."""
    ending = end_tag.encode()
    with archive.open(part) as handle:
        rest = b""
        while True:
            chunk = handle.read(WINDOW_BYTES)
            data = rest + chunk
            if not chunk:
                if data:
                    yield data.decode("utf-8")
                return
            cut = data.rfind(ending)
            if cut < 0:
                rest = data
                continue
            cut += len(ending)
            rest = data[cut:]
            yield data[:cut].decode("utf-8")


# --- cells -------------------------------------------------------------------------

def stream_cells(book: Book, sheet: SheetInfo) -> Iterator[pl.DataFrame]:
    """The sheet's cells that hold a value, window by window, in sheet order.

    Each frame has `_row` (the sheet's row number, 1-based), `col` (0-based column
    index), `text` (as calamine shows it; null for an error cell), `error` (the
    error's text, `#N/A`, for an error cell, else null) and `shared` (true when the text
    is the workbook's shared string, whose bytes the book's string table holds).
    """
    if sheet.part is None:
        raise KeyError(sheet.name)
    last_row = 0
    started = False
    for window in _windows(book.archive, sheet.part, "</row>"):
        if not started:
            root = _ROOT.search(window)
            if root is None or root.group(1):
                raise CannotStream("a namespace prefix")  # such as <x:worksheet>
            start = window.find("<sheetData")
            if start < 0:
                continue
            window = window[start:]
            started = True
        end = window.find("</sheetData>")
        if end >= 0:
            window = window[:end]
        _check_supported(window)
        rows = window.split("<row")[1:]
        if not rows:
            continue
        frame, last_row = _window_cells(book, rows, last_row)
        if frame.height:
            yield frame
        if end >= 0:
            return
    if not started:
        raise CannotStream("no <sheetData>")


def _check_supported(text: str) -> None:
    for marker in _UNSUPPORTED:
        if marker in text:
            raise CannotStream(marker)


# A spreadsheet's limits (Excel, LibreOffice): a cell beyond them is a damaged file.
MAX_ROWS, MAX_COLUMNS = 1_048_576, 16_384
# A literal ' r="' (not \s) lets the regex engine jump between candidates: 5x faster.
_ROW_REFS = re.compile(rb'<row [^>]*?r="([0-9]+)"')
_LONG_CELL_ROWS = re.compile(rb' r="[A-Za-z]+([0-9]{7,})"')  # from row 1,000,000 on
_WIDE_REFS = re.compile(rb' r="([A-Za-z]{2,})[0-9]')
# Longer than anything the survey's patterns match (a <row> tag, a cell's text).
_SURVEY_OVERLAP = 512
_VALUELESS_FORMULA = re.compile(rb'(?:</f>|<f [^>]*/>)(?:<v\s*/>)?</c>')
FORMULA_WITHOUT_VALUE = "a formula saved without its value"
"""The error of a formula cell whose file holds no value for it (open and save the
file in a spreadsheet program to compute it)."""


class BeyondSheetLimits(ValueError):
    """A cell reference past the last row or column any spreadsheet has."""


_KINDS = ["s", "inlineStr", "str", "d", "b", "e"]  # cell types (t="..."); any other is "n"
_ROW_NUMBER = r'^[^>]*?\sr="([0-9]+)"'
_ROOT = re.compile(r"<([A-Za-z_][\w.-]*:)?worksheet[\s>]")
_CANONICAL = (r'^\s*(?:r="([A-Za-z]+)[0-9]*")?\s*(?:s="([0-9]+)")?\s*(?:t="([^"]*)")?\s*'
              r'(/?)$')
_CELL_REF = r'^[^>]*?\br="([A-Za-z]+)[0-9]*"'
_CELL_TYPE = r'^[^>]*?\bt="([^"]*)"'
_CELL_STYLE = r'^[^>]*?\bs="([0-9]+)"'
_VALUE = r"<v(?:\s[^>]*)?>([^<]*)</v>"


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
    cells = cells.select("_row", "c", c.str.slice(0, c.str.find(">", literal=True))
                         .alias("head"), c.str.extract(_VALUE, 1).alias("v"))
    cells = pl.concat([cells.select("_row", "c", "v"), _attributes(cells["head"])],
                      how="horizontal").with_row_index("i")
    cells = cells.with_columns(_columns(cells))
    if cells.height and (cells["col"].max() >= MAX_COLUMNS  # type: ignore[operator]
                         or cells["_row"].max() > MAX_ROWS):  # type: ignore[operator]
        raise BeyondSheetLimits(f"a cell is beyond column {MAX_COLUMNS} or row {MAX_ROWS}")
    present = set(cells["t"].unique().to_list())
    parts = [_kind_text(book, cells.filter(pl.col("t") == kind), kind)
             for kind in _KINDS if kind in present]
    if not parts or present - set(_KINDS):
        parts.append(_kind_text(book, cells.filter(~pl.col("t").is_in(_KINDS)), "n"))
    out = pl.concat(parts).sort("i").drop("i")
    # A formula saved without its value (<v/> or none: openpyxl and other libraries
    # write formulas so) has no value anyone could read; like an error cell, it is
    # never read as an empty cell.
    valueless = cells.select(c.str.contains("<f", literal=True) & pl.col("v").is_null())
    if valueless.to_series().any():
        out = out.with_columns(pl.when(valueless.to_series() & pl.col("text").is_null()
                                       & pl.col("error").is_null())
                               .then(pl.lit(FORMULA_WITHOUT_VALUE))
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
        text = _shared_lookup(book, cells["v"])
    elif kind == "inlineStr":
        text = _unescaped(_runs_text(cells["c"]))
    elif kind in ("str", "d"):
        text = _unescaped(cells.select(_newlines(pl.col("v")).fill_null("")).to_series())
    elif kind == "b":
        value = cells["v"].str.strip_chars()
        text = cells.select(pl.when(value == "0").then(pl.lit("false"))
                            .when(value.is_not_null()).then(pl.lit("true"))).to_series()
    elif kind == "e":
        text = pl.Series([None] * cells.height, dtype=pl.String)
        error = _unescaped(cells["v"].str.strip_chars()).fill_null("#ERROR")
    else:
        text, error = _numbers(book, cells)
    return keep.with_columns(text.alias("text"), error.alias("error"),
                             pl.lit(kind == "s").alias("shared"))


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
    texts: set[str] = field(default_factory=set)  # matches of the caller's pattern


def survey_sheet(book: Book, sheet: SheetInfo, texts: re.Pattern[bytes] | None = None,
                 hints: tuple[bytes, ...] = ()) -> SheetSurvey:
    """One pass over the sheet's XML as bytes, block by block: how far its cells reach
    (from row numbers and cell references, not its <dimension>, which a program may
    leave wrong), whether a formula lacks its value, and the text between tags that
    matches `texts` (looked for only in blocks holding one of `hints`)."""
    found = SheetSurvey()
    if sheet.part is None:
        return found
    tail = b""
    with book.archive.open(sheet.part) as handle:
        while block := handle.read(WINDOW_BYTES):
            # Each block is looked at with the end of the one before: whatever a block's
            # end cuts in two is whole there (seen twice is harmless: maxima and sets).
            data = tail + block
            _survey_block(found, data, texts, hints)
            tail = data[-_SURVEY_OVERLAP:]
    return found


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
    if texts is not None and any(hint in data for hint in hints):
        found.texts.update(m.decode() for m in texts.findall(data))


def _column_index(ref: str) -> int:
    number = 0
    for ch in ref.upper():
        number = number * 26 + ord(ch) - 64
    return number - 1


def _shared_lookup(book: Book, values: pl.Series) -> pl.Series:
    index = values.str.strip_chars().cast(pl.Int64, strict=False)
    if index.len() == 0:
        return pl.Series("text", [], dtype=pl.String)
    shared = book.shared()
    valid = index.is_between(0, shared.len() - 1).fill_null(False)
    if not valid.all():
        index = index.set(~valid, None)
    return shared.gather(index)


def _numbers(book: Book, cells: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """Number cells (`t` absent or "n") as calamine's text; dates by their cell style.

    Also the error column: a date cell whose date is before year 1 or past 9999 has no
    text and the error DATE_OUT_OF_RANGE.
    """
    number = cells["v"].str.strip_chars()
    number = number.set(number == "", None) if (number == "").any() else number
    dates = [i for i, is_date in enumerate(book.date_styles) if is_date]
    is_date = cells["s"].is_in(dates).fill_null(False) if dates else None
    error = pl.Series("error", [None] * cells.height, dtype=pl.String)
    if is_date is None or not is_date.any():
        return _padded(book, cells, _number_text(number)), error
    text = _padded(book, cells, _number_text(number.set(is_date, None)))
    shown = _date_text(number.filter(is_date), book.date1904)
    where = is_date.arg_true()
    text = text.scatter(where, shown)
    outside = shown.is_null() & number.filter(is_date).cast(pl.Float64, strict=False).is_not_null()
    if outside.any():
        error = error.scatter(where.filter(outside), DATE_OUT_OF_RANGE)
    return text, error


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


def _number_text(number: pl.Series) -> pl.Series:
    """Numbers as calamine's text (see module doc); text that is no number stays as is."""
    value = number.cast(pl.Float64, strict=False)
    plain = ((value - value.round()).abs() < _EPS) & (value.abs() < _INT_LIMIT)
    out = pl.select(pl.when(plain & (value == 0) & number.str.starts_with("-"))
                    .then(pl.lit("-0"))
                    .when(plain).then(value.round().cast(pl.Int64, strict=False).cast(pl.String))
                    .otherwise(number)).to_series()
    other = (value.is_not_null() & ~plain).fill_null(False)
    if other.any():
        out = out.scatter(other.arg_true(), [_float_text(x) for x in value.filter(other)])
    return out.alias("text")


def _float_text(value: float) -> str:
    """`value` as Rust prints an f64: shortest round-trip digits, never an exponent."""
    if value != value or value in (float("inf"), float("-inf")):
        return {"nan": "NaN", "inf": "inf", "-inf": "-inf"}[repr(value)]
    if abs(value - round(value)) < _EPS:
        return str(int(round(value))) if value or str(value)[0] != "-" else "-0"
    text = repr(value)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    sign = "-" if mantissa.startswith("-") else ""
    digits = mantissa.lstrip("-").replace(".", "")
    point = mantissa.lstrip("-").find(".")
    point = (point if point >= 0 else len(mantissa.lstrip("-"))) + int(exponent)
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _date_text(number: pl.Series, date1904: bool) -> pl.Series:
    """Date cells' serial numbers as calamine's text: `YYYY-MM-DD HH:MM:SS[.fff]`; null
    for a date before year 1 or past 9999 (no spreadsheet shows it as a date)."""
    serial = number.cast(pl.Float64, strict=False)
    frame = pl.DataFrame({"serial": serial, "number": number})
    days = pl.col("serial")
    if date1904:
        epoch = pl.datetime(1904, 1, 1)
    else:  # serial 1 is 1900-01-01; Excel's invented 1900-02-29 (serial 60) reads as the 28th
        epoch = pl.datetime(1899, 12, 30)
        days = pl.when(days < 60).then(days + 1).otherwise(days)
    millis = (days * 86_400_000).round()
    moment = epoch + pl.duration(milliseconds=millis.cast(pl.Int64, strict=False))
    in_range = millis.abs().lt(1e15) & moment.is_between(
        pl.datetime(1, 1, 1), pl.datetime(9999, 12, 31, 23, 59, 59, 999_999))
    whole = moment.dt.strftime("%Y-%m-%d %H:%M:%S")
    fraction = moment.dt.millisecond()
    shown = pl.when(fraction == 0).then(whole).otherwise(
        pl.format("{}.{}", whole, fraction.cast(pl.String).str.zfill(3)))
    return frame.select(pl.when(in_range).then(shown)
                        .when(pl.col("serial").is_null()).then(pl.col("number"))
                        .alias("text")).to_series()
