"""Read a delimited text source (CSV, TSV, spreadsheet "Unicode text") as text cells.

A regular file (header on row 1, every record as wide as the header) is read by
Arrow's CSV parser (`csv_fast`). Any other file, or one the fast path gives up on, has
its records split by the standard library's C csv reader, which handles quoting and
reports each record's exact cell count (polars' reader cannot, for short rows). Either
way the frame is built column-wise in chunks, so memory stays bounded by the result.
"""

from __future__ import annotations

import codecs
import csv as _csv
import io
import re
from collections.abc import Iterable, Iterator
from itertools import chain, islice
from pathlib import Path
from typing import TextIO

import polars as pl

from sync.errors import SourceError
from sync.readers.csv_fast import read_fast
from sync.readers.detect import (
    bom_encoding,
    check_text_head,
    decode_failure,
    detect_delimiter,
    detect_encoding_and_doubt,
    normalise_delimiter,
    normalise_encoding,
    read_head,
    undecodable_at,
)
from sync.readers.encoding_signs import (
    EncodingProblem,
    mixed_encodings,
    mixed_with_mark,
    utf8_text_at,
)
from sync.readers.neutralise import unneutralise
from sync.readers.table import HEAD_ROWS, SourceTable, clean_cell

ROWS_PER_CHUNK = 50_000
_DETECT_CHARS = 64_000  # text read ahead for delimiter detection
_DETECT_RECORDS = 30
_WIDE_ENCODINGS = ("utf-16", "utf-32")
_DOS_EOF = "\x1a"  # Ctrl-Z, which DOS-era programs still write after the last line
# The first line some spreadsheets write to name the delimiter: sep=; (or , tab |).
_SEP_LINE = re.compile(r"sep=([;,\t|])[ \t]*(?:\r\n|\r|\n)?", re.IGNORECASE)


# The csv module refuses a cell over 128 KiB by default ("field larger than field
# limit"), which blamed the quotes for a long notes cell; the Arrow path has no limit.
_csv.field_size_limit(2**31 - 1)


def read_csv(
    path: Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    header_row: int = 1,
) -> SourceTable:
    """Read `path` as delimited text; every cell is text, nothing is inferred.

    `encoding` and `delimiter` override detection. Row `header_row` (1-based, counted in
    records as a spreadsheet shows them) is the header; records above it are ignored.
    Never decodes lossily. Raises SourceError, with a one-line message naming the file,
    for a file that cannot be read at all.
    """
    if header_row < 1:
        raise SourceError(f"{path}: --header-row must be 1 or more, not {header_row}")
    head = read_head(path)
    try:
        sep = normalise_delimiter(delimiter) if delimiter is not None else None
        codec = normalise_encoding(encoding) if encoding is not None else None
    except ValueError as exc:
        raise SourceError(f"{path}: {exc}") from None

    doubt = None
    if codec is None:
        try:
            codec, doubt = detect_encoding_and_doubt(path)
        except EncodingProblem as problem:
            raise problem.at_rows(_rows_at(path, problem.offsets, sep)) from None
    elif not codec.startswith(_WIDE_ENCODINGS):
        wide = bom_encoding(head)
        refused = wide in _WIDE_ENCODINGS or (wide == "utf-8-sig" and not codec.startswith("utf"))
        if wide is not None and refused and undecodable_at(path, wide) is not None:
            # The encoding the mark names can't read it either: say why, not "pass it".
            raise _undecodable(path, wide, sep, header_row, "")
        if wide in _WIDE_ENCODINGS:
            raise SourceError(
                f"{path}: starts with a {wide.upper()} byte-order mark, so it is not "
                f"{codec}; pass --encoding {wide} or leave --encoding out"
            )
        if wide == "utf-8-sig" and not codec.startswith("utf"):
            # Read as a single-byte encoding, the mark would be glued to the first header
            # ("ï»¿Asiakasnumero"), and rows would then match without their key column.
            raise SourceError(
                f"{path}: starts with a UTF-8 byte-order mark, so it is not {codec}; "
                f"pass --encoding utf-8 or leave --encoding out"
            )
        check_text_head(path, head)

    try:
        with path.open("r", encoding=codec, errors="strict", newline="") as fh:
            table = _read_records(path, fh, codec, sep, header_row,
                                  nul_checked=encoding is None and codec == "utf-8")
        table.encoding_doubt = doubt
        return table
    except UnicodeError as exc:  # UnicodeDecodeError, or utf-16's "no BOM"
        raise _decode_error(
            path, codec, sep, header_row, exc, explicit=encoding is not None
        ) from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _read_records(
    path: Path, fh: TextIO, codec: str, sep: str | None, header_row: int,
    nul_checked: bool = False,
) -> SourceTable:
    lines, directive = _read_ahead(fh, header_row)
    if sep is None:
        sep = directive
    if sep is None:
        sample = "".join(lines[header_row - 1 :])
        sep = detect_delimiter(sample, preferred="\t" if path.suffix.lower() == ".tsv" else None)
    head = _head_records(lines, sep)
    fed = _RecordLines(_dos_eof_dropped(chain(lines, fh)))
    reader = _csv.reader(fed, delimiter=sep, quotechar='"', doublequote=True)
    records = _numbered(path, reader)

    header = _find_header(path, records, header_row)
    headers = [cell.strip() for cell in header]
    named = len(headers)
    while named and not headers[named - 1]:
        named -= 1  # trailing delimiters on the header line
    fast = None
    if header_row == 1:
        fast = read_fast(path, codec, sep, directive is not None, header, named,
                         nul_checked)
    if fast is not None:
        (frame, skipped), ragged = fast, []
    else:
        frame, ragged, skipped = _collect(path, reader, header_row, len(headers), fed,
                                          sep, named)
    # Columns under the header's trailing empty cells are kept only where a row holds
    # something there: then they are columns without a header (ignored, and listed).
    used = max((i + 1 for i in range(named, frame.width - 1)
                if (frame[f"c{i}"].str.strip_chars().fill_null("") != "").any()),
               default=named)
    frame = frame.select("_row", *[f"c{i}" for i in range(used)])
    headers = headers[:used]
    return SourceTable(
        path=path,
        format="csv",
        encoding=codec,
        delimiter=sep,
        header_row=header_row,
        headers=headers,
        frame=frame,
        ragged=ragged,
        skipped=skipped,
        head=head,
        first_column=lambda: 0,
    )


def _head_records(lines: list[str], sep: str) -> list[tuple[int, list[str]]]:
    """The first records as (row number, cells), to point at a header below title lines.

    Split by `sep`; but when most of them are single cells under `sep` (title lines
    fooled the detection), by the delimiter the lines further down use.
    """
    text = "".join(lines)
    head = _split_head(text, sep)
    filled = [cells for _, cells in head if any(c.strip() for c in cells)]
    if sum(len(cells) < 2 for cells in filled) * 2 <= len(filled):
        return head
    for start in range(1, min(HEAD_ROWS, len(lines))):
        other = detect_delimiter("".join(lines[start:]))
        if other != sep and len(_split_head(lines[start], other)[0][1]) > 1:
            return _split_head(text, other)
    return head


def _split_head(text: str, sep: str) -> list[tuple[int, list[str]]]:
    records: list[tuple[int, list[str]]] = []
    reader = _csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    try:
        for number, record in enumerate(reader, start=1):
            records.append((number, record))
            if number >= HEAD_ROWS:
                break
    except _csv.Error:
        pass  # a quote left open in the sample: what was read has to do
    return records or [(1, [])]


def _dos_eof_dropped(lines: Iterable[str]) -> Iterator[str]:
    """`lines`, with the DOS end-of-file marks (Ctrl-Z) that end the last one taken off:
    they end the file, whatever precedes them, and are no part of its last cell. A last
    line of marks only is left one mark, a line that is no row (counted as skipped)."""
    it = iter(lines)
    last = next(it, None)
    if last is None:
        return
    for line in it:
        yield last
        last = line
    kept = last.rstrip(_DOS_EOF)
    yield kept if kept else _DOS_EOF


class _RecordLines:
    """The lines the csv reader is fed, keeping those since `clear()`: the raw lines of
    the record just read, for a strict second look at it (see _collect)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self.lines: list[str] = []

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.lines.append(line)
        return line

    def clear(self) -> None:
        self.lines.clear()


def _strict_error(lines: list[str], sep: str) -> str | None:
    """What the csv module's strict rules find wrong with a record's raw lines (a quoted
    cell never closed, or not closed where a delimiter or the line's end follows), or
    None when they split cleanly."""
    try:
        list(_csv.reader(io.StringIO("".join(lines), newline=""), delimiter=sep,
                         quotechar='"', doublequote=True, strict=True))
    except _csv.Error as exc:
        return str(exc)
    return None


def _collect(
    path: Path, reader: Iterator[list[str]], header_row: int, width: int,
    fed: _RecordLines, sep: str, named: int | None = None
) -> tuple[pl.DataFrame, list[tuple[int, int]], int]:
    """Read the data records after the header: (frame, ragged rows, skipped count).

    `width` counts the header's cells; `named`, those up to its last non-empty one. A
    record of `named` cells or more, up to `width`, is a row: the cells it lacks are
    under the header's trailing empty cells (a trailing delimiter on the header line).
    """
    named = width if named is None else named
    names = [f"c{i}" for i in range(width)]
    frames: list[pl.DataFrame] = []
    # Cells of kept rows, row after row: one flat list becomes one Series per chunk,
    # which is several times faster than transposing rows into columns in Python.
    cells: list[str] = []
    numbers: list[int] = []
    ragged: list[tuple[int, int]] = []
    skipped = 0
    number = header_row
    record: list[str] = []
    last_lines: list[str] = []
    fed.clear()
    try:
        for record in reader:
            last_lines = fed.lines
            fed.lines = []
            number += 1
            count = len(record)
            if record == [_DOS_EOF]:
                skipped += 1  # a DOS end-of-file mark on a line of its own: no row
                continue
            if count == width:
                # join+strip: one C call finds rows of empty or whitespace-only cells
                if "".join(record).strip():
                    cells.extend(record)
                    numbers.append(number)
                else:
                    skipped += 1
            elif not "".join(record).strip():
                skipped += 1  # a blank line ([]) or only delimiters and spaces
            elif named <= count < width:
                cells.extend(record)
                cells.extend([""] * (width - count))
                numbers.append(number)
            elif count > width and not "".join(record[width:]).strip():
                cells.extend(record[:width])  # trailing empty cells are tolerated
                numbers.append(number)
            else:
                ragged.append((number, count))
            if len(numbers) >= ROWS_PER_CHUNK:
                frames.append(_chunk_frame(cells, numbers, names))
                cells, numbers = [], []
    except _csv.Error as exc:
        raise _split_error(path, number + 1, exc) from None
    # A quote opened in the last cell leaves the row as wide as the header, so its width
    # tells nothing; its raw lines, split strictly, do (the file ends inside the quote, or
    # a later '"' was taken to close it where no delimiter follows).
    strict = (_strict_error(last_lines, sep)
              if record and ("\n" in record[-1] or "\r" in record[-1]) else None)
    if record and strict is None and last_lines and not last_lines[-1].endswith(("\n", "\r")):
        # The file ends without a line break, perhaps inside a quoted cell (QA: a file
        # still being written, cut at `"Call before 10; ask for`, was stored so). Only
        # that is looked for: the lenient split of the other rows stands.
        if _strict_error(last_lines, sep) == "unexpected end of data":
            raise SourceError(
                f"{path}: row {number} opens a quote that is never closed: the file ends "
                "inside it (a copy or download cut short?); check the end of the file")
    if strict == "unexpected end of data":
        # The last record ran to the end of the file across line breaks: an unclosed quote
        # swallowed every row after it. Rejecting one row would hide those rows. (A last
        # row that is only ragged, its quotes closed, is listed as ragged like any other:
        # refusing the file for it named a quote that was closed; mutation QA.)
        raise SourceError(
            f"{path}: row {number} opens a quote that is never closed, so every line after "
            "it was read as part of one cell; check the quotes in that row")
    if strict is not None:
        # The same, or a cell that spans lines with text after its closing quote: the two
        # can't be told apart, and guessing could hide rows.
        raise SourceError(
            f"{path}: row {number} has a cell that spans lines and whose quote is not "
            "closed where the cell ends (a quote never closed, or text after the closing "
            "quote), so the rows after it can't be told apart; check the quotes in that row")
    if numbers or not frames:
        frames.append(_chunk_frame(cells, numbers, names))
    frame = pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0]
    return frame, ragged, skipped


def _split_error(path: Path, row: int, exc: _csv.Error) -> SourceError:
    return SourceError(
        f"{path}: row {row} cannot be split into cells ({exc}); "
        "check its quotes or pass --delimiter"
    )


def _read_ahead(fh: TextIO, header_row: int) -> tuple[list[str], str | None]:
    """The first lines of `fh`, enough to detect the delimiter from the header on.

    Also the delimiter a spreadsheet's `sep=;` first line names (that line is dropped:
    spreadsheets do not show it, so the row after it is row 1).
    """
    lines: list[str] = []
    directive: str | None = None
    size = 0
    for line in fh:
        if not lines and directive is None:
            if line.startswith("\ufeff"):
                line = line[1:]  # a BOM left by an explicit --encoding such as utf-16-le
            found = _SEP_LINE.fullmatch(line)
            if found:
                directive = found.group(1)
                continue
        lines.append(line)
        size += len(line)
        if len(lines) >= header_row + _DETECT_RECORDS or size >= _DETECT_CHARS:
            break
    return lines, directive


def _numbered(path: Path, reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """(spreadsheet row number, cells) per record; used to find the header."""
    number = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except _csv.Error as exc:
            raise _split_error(path, number + 1, exc) from None
        number += 1
        yield number, record


def _find_header(
    path: Path, records: Iterator[tuple[int, list[str]]], header_row: int
) -> list[str]:
    """The header record at row `header_row`, or SourceError saying where one might be."""
    for number, record in records:
        if number < header_row:
            continue
        if any(cell.strip() for cell in record):
            return record
        later = next((n for n, r in records if any(c.strip() for c in r)), None)
        if later is None:
            if header_row == 1:
                raise SourceError(f"{path}: the file is empty (no text, only blank lines)")
            raise SourceError(
                f"{path}: no header: row {header_row} and every row after it are empty"
            )
        raise SourceError(
            f"{path}: no header: row {header_row} is empty; the first row with text is "
            f"row {later} (pass --header-row {later} if that is the header)"
        )
    if header_row == 1:
        raise SourceError(f"{path}: the file is empty")
    raise SourceError(
        f"{path}: no header: the file has fewer than {header_row} rows (check --header-row)"
    )


def _chunk_frame(cells: list[str], numbers: list[int], names: list[str]) -> pl.DataFrame:
    """A frame of one chunk of rows, all cells text; empty cells null, guards unwrapped."""
    width = len(names)
    flat = pl.Series("cells", cells, dtype=pl.String)
    frame = pl.DataFrame(
        [pl.Series("_row", numbers, dtype=pl.Int64)]
        + [flat.gather_every(width, offset).alias(name) for offset, name in enumerate(names)]
    )
    frame = frame.with_columns(clean_cell(name) for name in names)
    return frame.with_columns(unneutralise(pl.col(names))) if names else frame


def _rows_at(path: Path, offsets: tuple[int, ...], sep: str | None) -> list[int | None]:
    """The row (record, as a spreadsheet counts them) each byte offset falls in; None
    for one that can't be told (a record that can't be split)."""
    rows: dict[int, int] = {}
    pending = sorted(set(offsets))
    # Latin-1 decodes byte for byte (one character a byte), and the delimiters, quotes and
    # line ends of any byte-oriented encoding are ASCII: records split as they would.
    try:
        with path.open("r", encoding="latin-1", newline="") as fh:
            first = fh.readline()
            found = _SEP_LINE.fullmatch(first.removeprefix(_UTF8_BOM_AS_LATIN_1))
            fed = _Counted(len(first) if found else 0)
            lines = ([] if found else [first]) + list(islice(fh, _DETECT_RECORDS))
            sep = sep or (found.group(1) if found else detect_delimiter("".join(lines)))
            reader = _csv.reader(fed.lines(chain(lines, fh)), delimiter=sep)
            for number, _ in enumerate(reader, start=1):
                while pending and pending[0] < fed.read:
                    rows[pending.pop(0)] = number
                if not pending:
                    break
    except (_csv.Error, OSError):
        pass  # byte offsets have to do
    return [rows.get(offset) for offset in offsets]


_UTF8_BOM_AS_LATIN_1 = codecs.BOM_UTF8.decode("latin-1")


class _Counted:
    """Counts the characters (here: bytes) of the lines fed through `lines`."""

    def __init__(self, read: int) -> None:
        self.read = read

    def lines(self, lines: Iterable[str]) -> Iterator[str]:
        for line in lines:
            self.read += len(line)
            yield line


def _decode_error(
    path: Path,
    codec: str,
    sep: str | None,
    header_row: int,
    exc: UnicodeError,
    *,
    explicit: bool,
) -> SourceError:
    """SourceError for a file that `codec` cannot decode: where, and what to try."""
    if explicit:
        hint = "pass another --encoding (e.g. utf-8, cp1252, cp1250, iso8859-15, iso8859-2)"
    else:
        hint = "pass --encoding"
    if not isinstance(exc, UnicodeDecodeError):
        return SourceError(f"{path}: cannot be decoded as {codec} ({exc}); {hint}")
    return _undecodable(path, codec, sep, header_row, hint)


def _undecodable(path: Path, codec: str, sep: str | None, header_row: int,
                 hint: str) -> SourceError:
    """SourceError for a file `codec` fails to decode: cut off (a character at its end),
    in two encodings (UTF-8 text or mark beside a byte that is not UTF-8), damaged (a
    UTF-16/32 mark), or else where, with `hint`."""
    failure = decode_failure(path, codec)
    offset, at_end = failure if failure is not None else (None, False)
    row = _row_of_decode_error(path, codec, sep, header_row, at_end=at_end)
    bom = bom_encoding(read_head(path, 4))
    if offset is not None and codec.startswith("utf-8"):
        # UTF-8 text beside the byte: no single encoding reads both parts right.
        utf8_at = utf8_text_at(path)
        if at_end and (bom is not None or utf8_at is not None):
            return _truncated(path, codec, offset, row)
        if utf8_at is not None:
            problem = mixed_encodings(path, utf8_at, offset)
            return problem.at_rows([_rows_at(path, (utf8_at,), sep)[0], row])
        if bom == "utf-8-sig":
            return mixed_with_mark(path, offset).at_rows([row])
    where = ", ".join(([f"row {row}"] if row is not None else [])
                      + ([f"byte offset {offset}"] if offset is not None else []))
    if bom in _WIDE_ENCODINGS and codec.startswith(_WIDE_ENCODINGS) and offset is not None:
        # The mark says what the file is: no other --encoding would read it.
        if at_end:
            return _truncated(path, codec, offset, row)
        return SourceError(
            f"{path}: cannot be decoded as {codec} at {where}: the bytes there are no "
            f"{bom.upper()} character, so the file is damaged; copy or export it again")
    return SourceError(f"{path}: cannot be decoded as {codec} at {where or 'its end'}; {hint}")


def _truncated(path: Path, codec: str, offset: int, row: int | None) -> SourceError:
    where = f"row {row}, byte offset {offset}" if row is not None else f"byte offset {offset}"
    name = codecs.lookup(codec).name.upper().replace("-SIG", "")
    return SourceError(
        f"{path}: is {name} text cut off inside its last character ({where}): the file "
        "looks truncated; copy or export it again")


def _row_of_decode_error(
    path: Path, codec: str, sep: str | None, header_row: int, *, at_end: bool = False
) -> int | None:
    """The row the first byte `codec` cannot decode falls in, or None if unknown.
    `at_end`: the bytes are a character cut off by the file's end; after a line break
    they are no row of their own, and the row named is the last one."""
    row: int | None = None
    try:
        with path.open("r", encoding=codec, errors=_MARK_ERRORS, newline="") as fh:
            lines, directive = _read_ahead(fh, header_row)
            sep = sep or directive
            if sep is None:
                sep = detect_delimiter("".join(lines[header_row - 1 :]))
            reader = _csv.reader(chain(lines, fh), delimiter=sep)
            for number, record in enumerate(reader, start=1):
                if any(_MARK in cell for cell in record):
                    row = number - 1 if at_end and record == [_MARK] and number > 1 else number
                    break
    except (_csv.Error, UnicodeError):
        pass  # the offset alone has to do
    return row


def _mark_undecodable(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return _MARK, exc.end


# Only used to find the row of an undecodable byte; never for reading data.
_MARK = "\U0010fffd"
_MARK_ERRORS = "regsync-mark-undecodable"
codecs.register_error(_MARK_ERRORS, _mark_undecodable)
