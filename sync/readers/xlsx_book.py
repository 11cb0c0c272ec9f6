"""An XLSX workbook's small parts, read once: the sheet list with each sheet's
visibility, which cell styles are dates, times of day or durations, or pad numbers with
zeros, the 1904 flag, the shared strings; and any part's XML in windows of decompressed
text.
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

from sync.readers.xlsx_text import runs_text, unescaped

_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_OFFICE_DOC = "/officeDocument"
WINDOW_BYTES = 1 << 20  # decompressed sheet XML handled at once
_BUILTIN_DATES = frozenset({*range(14, 23), 45, 46, 47})
# The built-in formats (no numFmt of their own in styles.xml) that show a time only.
_BUILTIN_TIMES = {18: "h:mm AM/PM", 19: "h:mm:ss AM/PM", 20: "h:mm", 21: "h:mm:ss",
                  45: "mm:ss", 46: "[h]:mm:ss", 47: "mm:ss.0"}


class DamagedPart(ValueError):
    """A part's XML is cut off, or a cell holds what no spreadsheet writes (a shared
    string the workbook lacks, a number cell without a number, a reference such as A0):
    the file is damaged and none of the sheet is read."""


@dataclass(frozen=True)
class TimeFormat:
    """How a time-only number format (`hh:mm:ss`, `[h]:mm`) shows its number."""

    elapsed: bool  # `[h]`, `[mm]`, `[ss]`: hours past a day are shown (25:00:00)
    decimals: int  # the digits of a second's fraction it shows (`ss.00`: 2), at most 3


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
    # The workbook asks to compute every formula on load (calcPr fullCalcOnLoad): the
    # values saved with its formulas are not computed (xlsxwriter saves 0).
    formulas_uncomputed: bool = False
    date_styles: list[bool] = field(default_factory=list)
    # Cell style (xf) index -> digits a zero-padding number format ("00000", see
    # `padded_width`) pads an integer to: the sheet shows 42 as 0042 under "0000".
    padded_styles: dict[int, int] = field(default_factory=dict)
    # Cell style (xf) index -> its format, for date styles whose format shows a time
    # only (see `time_format`): the sheet shows 0 as 00:00:00, not as a date.
    time_styles: dict[int, TimeFormat] = field(default_factory=dict)
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
    """The workbook at `path`: its sheets (with visibility), date styles, 1904 flag,
    whether its formulas' saved values are computed.

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
        uncomputed = any((pr.get("fullCalcOnLoad") or "").lower() in ("1", "true")
                         for pr in _named(root, "calcPr"))
        by_type = {kind: part for kind, part in rels.values()}
        styles = by_type.get("/styles")
        formats = _cell_formats(archive, styles)
        return Book(archive=archive, sheets=sheets, date1904=date1904,
                    formulas_uncomputed=uncomputed,
                    date_styles=_date_styles(formats),
                    padded_styles=_padded_styles(formats),
                    time_styles=_time_styles(formats),
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


def _date_styles(formats: list[tuple[str, str | None]]) -> list[bool]:
    """For each cell style (xf) index (`formats`, see `_cell_formats`): is a number in
    that style a date or time?"""
    return [is_date_format(code) if code is not None
            else ident.isdigit() and int(ident) in _BUILTIN_DATES
            for ident, code in formats]


def _time_styles(formats: list[tuple[str, str | None]]) -> dict[int, TimeFormat]:
    """Cell style index -> format, for the date styles whose format shows a time only
    (`formats`, see `_cell_formats`)."""
    out = {}
    for index, ((ident, code), is_date) in enumerate(zip(formats, _date_styles(formats),
                                                         strict=True)):
        if code is None and ident.isdigit():
            code = _BUILTIN_TIMES.get(int(ident))
        shown = time_format(code) if is_date and code is not None else None
        if shown is not None:
            out[index] = shown
    return out


_COLOUR = re.compile(r"(?i)black|blue|cyan|green|magenta|red|white|yellow|color[0-9]{1,2}")
_LOCALE = re.compile(r"\$-[0-9A-Fa-f]+")  # [$-40B]: a language, no currency symbol shown


def _padded_styles(formats: list[tuple[str, str | None]]) -> dict[int, int]:
    """Cell style index -> width, for styles whose format shows an integer as
    zero-padded digits only (see `padded_width`; `formats`, see `_cell_formats`)."""
    out = {}
    for index, (_, code) in enumerate(formats):
        width = padded_width(code or "")
        if width is not None:
            out[index] = width
    return out


def padded_width(code: str) -> int | None:
    """The digits a number format pads a positive integer to with zeros, when its first
    section shows nothing but those digits: 5 for `00000`, `[Red]00000`, `[$-40B]00000`
    (a colour, a language), `00000_)` (a space as wide as ")"), and `0000#` (a digit
    placeholder right of a zero is shown too: 42 is 00042); 4 for `#0000`.

    None for any other format, which shows the number as typed: one with text of its
    own (`"FI-"00000`, `\\A0000`, `[$EUR-40B]`), a fill (`*`), a condition
    (`[>99999]`), decimals or thousands separators, or a single zero.
    """
    section = code.split(";", 1)[0]
    digits = ""
    at = 0
    while at < len(section):
        char = section[at]
        if char == "[":
            end = section.find("]", at)
            inner = section[at + 1:end]
            if end < 0 or not (_COLOUR.fullmatch(inner) or _LOCALE.fullmatch(inner)):
                return None
            at = end + 1
        elif char == "_":
            at += 2  # a space as wide as the next character: no text
        elif char in "0#":
            digits += char
            at += 1
        else:
            return None
    first_zero = digits.find("0")
    width = len(digits) - first_zero if first_zero >= 0 else 0
    return width if width >= 2 else None


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


_ELAPSED = re.compile(r"\[(h+|m+|s+)\]", re.IGNORECASE)  # [h], [hh], [mm], [ss]
_HALF_DAY = re.compile(r"am/pm|a/p", re.IGNORECASE)
_SECOND_FRACTION = re.compile(r"\.0+")


def time_format(code: str) -> TimeFormat | None:
    """How a number format shows a time, when its first section shows a time only: hour,
    minute and second tokens (`hh:mm:ss`, `h:mm AM/PM`, `mm:ss.0`, `[h]:mm:ss`,
    `[$-40B]HH:MM:SS`), no year, month or day. None for any other format (`d.m.yyyy`,
    `yyyy-mm-dd hh:mm`, `mm` alone: a month; a letter it does not know, `aaa`).

    `m` is a minute right after an hour or right before a second token, else a month.
    """
    tokens = _date_tokens(code)
    units = [token for token in tokens if not token.startswith(".")]
    letters = [unit.strip("[]") for unit in units]
    if not units:
        return None
    for at, unit in enumerate(units):
        minute = (unit == "[m]" or (at > 0 and letters[at - 1] == "h")
                  or (at + 1 < len(units) and letters[at + 1] == "s"))
        if letters[at] not in ("h", "m", "s") or (unit == "m" and not minute):
            return None
    fraction = max((len(token) - 1 for token in tokens if token.startswith(".")), default=0)
    return TimeFormat(elapsed=any(unit.startswith("[") for unit in units),
                      decimals=min(fraction, 3))


def _date_tokens(code: str) -> list[str]:
    """The date and time tokens of a format's first section, in order, each letter's run
    as the letter (`hh` -> `h`), an elapsed unit as `[h]`, `[m]`, `[s]` and a second's
    fraction as its point and zeros (`.00`): `[hh]:mm:ss.00` is `[h]`, `m`, `s`, `.00`.
    Quoted text, escaped characters, spacing, fills, AM/PM and bracketed colours,
    locales and conditions are left out; a letter no time shows (`d`, `y`, `aaa`, `e`)
    comes as itself."""
    tokens: list[str] = []
    at = 0
    while at < len(code) and code[at] != ";":
        char = code[at]
        if char == '"':
            end = code.find('"', at + 1)
            at = len(code) if end < 0 else end + 1
        elif char in "\\_*":
            at += 2
        elif char == "[":
            end = code.find("]", at)
            end = len(code) if end < 0 else end
            elapsed = _ELAPSED.fullmatch(code, at, end + 1)
            if elapsed:
                tokens.append(f"[{elapsed.group(1)[0].lower()}]")
            at = end + 1
        elif half := _HALF_DAY.match(code, at):
            at = half.end()
        elif char == "." and tokens[-1:] in (["s"], ["[s]"]) and \
                (fraction := _SECOND_FRACTION.match(code, at)):
            tokens.append(fraction.group())
            at = fraction.end()
        elif char.isalpha():
            run = at
            while run < len(code) and code[run].lower() == char.lower():
                run += 1
            tokens.append(char.lower())
            at = run
        else:
            at += 1
    return tokens


_SST_END = re.compile(r"(?:</(?:[\w.-]+:)?sst>|<(?:[\w.-]+:)?sst\b[^>]*/>)\s*$")


_SST_PREFIX = re.compile(r"<([A-Za-z_][\w.-]*:)sst[\s>/]")


def _read_shared(archive: zipfile.ZipFile, part: str | None) -> pl.Series:
    """The shared strings of `part`; DamagedPart when its XML is cut off (a string
    missing from it would read as an empty cell)."""
    if part is None:
        return pl.Series("shared", [], dtype=pl.String)
    pieces: list[pl.Series] = []
    last = ""
    # A namespace prefix on every element (<x:sst><x:si><x:t>, as the .NET OpenXML SDK
    # writes them) is taken off: text holds no '<' (XML escapes it), so only tags change.
    with archive.open(part) as handle:
        found = _SST_PREFIX.search(handle.read(4096).decode("utf-8", errors="replace"))
    prefix = found.group(1) if found else ""
    for window in windows(archive, part, f"</{prefix}si>"):
        if prefix:
            window = window.replace(f"<{prefix}", "<").replace(f"</{prefix}", "</")
        last = window
        items = window.split("<si")[1:]
        raw = pl.Series("si", items, dtype=pl.String)
        pieces.append(unescaped(runs_text(raw)).fill_null("").alias("shared"))
    if _SST_END.search(last) is None:
        raise DamagedPart(f"its shared strings ({part}) are cut off")
    if not pieces:
        return pl.Series("shared", [], dtype=pl.String)
    # One chunk in new, large buffers (any string operation writes new ones; the text has
    # no NUL): the pieces' small buffers would each keep pages of the allocator half used.
    return pl.concat(pieces, rechunk=True).str.strip_prefix("\x00")


def windows(archive: zipfile.ZipFile, part: str, end_tag: str) -> Iterator[str]:
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

