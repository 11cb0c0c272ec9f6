"""The fast path of the CSV reader: Arrow's C++ CSV parser, batch by batch.

It reads a file only when the file is regular: the header is row 1, and every record
has exactly as many cells as the header line (a blank line reads as a record of empty
cells). Then record N is spreadsheet row N, as the exact reader numbers it. Anything
else (a ragged row, a stray NUL byte, a quote left open, bytes that are not UTF-8)
makes `read_fast` return None, and the caller reads the file with the standard
library's csv module, which reports each of those the way the spec says. Both split
cells the same way (the tests compare them on generated files).

Memory: Arrow parses blocks of BLOCK_BYTES; each batch becomes polars columns at once,
so the file is never held whole, only the frame being built.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import re
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from sync.readers.neutralise import unneutralise
from sync.readers.table import clean_cell

BLOCK_BYTES = 2 << 20
_READ_BYTES = 4 << 20
_BOM = b"\xef\xbb\xbf"
_SEP_LINE = re.compile(rb"sep=[;,\t|][ \t]*(?:\r\n|\r|\n)?", re.IGNORECASE)


class _Irregular(Exception):
    """The file is not regular (see module doc): read it the exact way."""


class _Utf8Stream(io.RawIOBase):
    """The file's text as UTF-8 bytes from the first record on (no BOM, no `sep=` line).

    UTF-8 files pass through as bytes; other encodings are decoded strictly and encoded
    again, chunk by chunk. A NUL byte, or bytes the encoding cannot decode, stop the read
    (the exact reader then says where).
    """

    def __init__(self, path: Path, codec: str, sep_line: bool) -> None:
        super().__init__()
        self._passthrough = codecs.lookup(codec).name == "utf-8"
        self._handle: io.BufferedReader | io.TextIOWrapper
        if self._passthrough:
            self._handle = path.open("rb")
        else:
            self._handle = path.open("r", encoding=codec, errors="strict", newline="")
        self._pending = b""
        self._first = True
        self._sep_line = sep_line
        self.failure: BaseException | None = None

    def readable(self) -> bool:
        return True

    def _chunk(self) -> bytes:
        if self._passthrough:
            data = self._handle.read(_READ_BYTES)
            assert isinstance(data, bytes)
        else:
            text = self._handle.read(_READ_BYTES)
            assert isinstance(text, str)
            data = text.encode("utf-8")
        if self._first:
            self._first = False
            data = data.removeprefix(_BOM)
            if self._sep_line:
                found = _SEP_LINE.match(data)
                data = data[found.end():] if found else data
        if b"\x00" in data:
            raise _Irregular("NUL byte")
        return data

    def read(self, size: int = -1) -> bytes:
        try:
            while size < 0 or len(self._pending) < size:
                data = self._chunk()
                if not data:
                    break
                self._pending += data
        except (UnicodeError, _Irregular, OSError) as exc:
            self.failure = exc
            raise
        if size < 0:
            size = len(self._pending)
        out, self._pending = self._pending[:size], self._pending[size:]
        return out

    def close(self) -> None:
        self._handle.close()
        super().close()


def read_fast(path: Path, codec: str, sep: str, sep_line: bool,
              header: list[str], width: int,
              nul_checked: bool = False) -> tuple[pl.DataFrame, int] | None:
    """(frame, skipped count) of a regular file whose header is row 1, else None.

    `header` is the header record as the exact reader split it (trailing empty cells
    included); `width` is how many of its cells are kept. `nul_checked`: the whole file
    is known to hold no NUL byte (encoding detection scans for them).
    """
    # A UTF-8 file is read by Arrow itself (it skips the BOM; the `sep=` line is skipped
    # as a row). Other encodings go through _Utf8Stream, which Arrow calls back from a
    # thread of its own; a call still pending when Python exits (a read given up
    # midway) aborts the process, so a file needing no Python in between is read
    # without it.
    native = codecs.lookup(codec).name in ("utf-8", "utf-8-sig")
    try:
        stream: _Utf8Stream | pa.NativeFile = (
            pa.OSFile(str(path)) if native else _Utf8Stream(path, codec, sep_line))
        with stream:
            if native and not nul_checked and _has_nul(path):
                return None  # the exact reader says where
            return _read(stream, sep, header, width, skip=int(native and sep_line))
    except (_Irregular, pa.ArrowException, UnicodeError, OSError):
        return None


def _has_nul(path: Path) -> bool:
    """Whether the file holds a NUL byte (no text a spreadsheet writes)."""
    with path.open("rb") as handle:
        while block := handle.read(_READ_BYTES):
            if b"\x00" in block:
                return True
    return False


def _read(stream: _Utf8Stream | pa.NativeFile, sep: str, header: list[str],
          width: int, skip: int) -> tuple[pl.DataFrame, int]:
    raw = [f"f{i}" for i in range(len(header))]
    reader = pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(column_names=raw, block_size=BLOCK_BYTES,
                                       use_threads=False, skip_rows=skip),
        parse_options=pacsv.ParseOptions(delimiter=sep, quote_char='"', double_quote=True,
                                         escape_char=False, newlines_in_values=True,
                                         ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in raw}, strings_can_be_null=False,
            quoted_strings_can_be_null=False, null_values=[], true_values=[],
            false_values=[]),
    )
    # Closed whatever happens: a read given up midway (an irregular file) stops its
    # read-ahead now rather than whenever the reader is collected.
    with contextlib.closing(reader):
        found = _batches(reader, header, width, raw)
    if isinstance(stream, _Utf8Stream) and stream.failure is not None:
        raise _Irregular(str(stream.failure))
    frame, skipped, last_cell = found
    if last_cell is not None and ("\n" in last_cell or "\r" in last_cell):
        # Perhaps a quote opened in the last cell and never closed, which took every line
        # after it into that cell: the exact reader looks at that record strictly.
        raise _Irregular("a line break in the last cell")
    return frame, skipped


def _batches(reader: pacsv.CSVStreamingReader, header: list[str], width: int,
             raw: list[str]) -> tuple[pl.DataFrame, int, str | None]:
    """(frame, skipped count, the last record's last cell) of the batches."""
    names = [f"c{i}" for i in range(width)]
    frames: list[pl.DataFrame] = []
    skipped = 0
    number = 0  # records read so far; record 1 is the header
    last_cell: str | None = None
    for batch in reader:
        chunk = pl.from_arrow(batch)
        assert isinstance(chunk, pl.DataFrame)
        del batch
        if chunk.height:
            last_cell = chunk[raw[-1]][-1]
        # polars' view of an Arrow string column shares Arrow's buffer of every cell's
        # bytes. Any string operation builds new strings (this one changes nothing: the
        # file has no NUL byte), so polars keeps its own compact buffers (short cells
        # live inside their views) and the batch's buffers are freed.
        chunk = chunk.with_columns(pl.col(raw).str.strip_prefix("\x00"))
        chunk = chunk.with_row_index("_row", offset=number + 1).with_columns(
            pl.col("_row").cast(pl.Int64))
        number += chunk.height
        if chunk["_row"][0] == 1:
            if [chunk[name][0] for name in raw] != header:
                raise _Irregular("header")
            chunk = chunk.slice(1)
        extra = raw[width:]
        if extra and chunk.select(pl.any_horizontal(
                pl.col(c).str.strip_chars() != "" for c in extra)).to_series().any():
            raise _Irregular("cells beyond the header")
        chunk = chunk.select("_row", *[pl.col(r).alias(c) for r, c in zip(raw, names,
                                                                            strict=False)])
        chunk, count = _drop_blank(chunk, names)
        skipped += count
        chunk = chunk.with_columns(clean_cell(n) for n in names)
        quoted = [n for n in names if chunk[n].str.starts_with("'").any()]
        frames.append(chunk.with_columns(unneutralise(pl.col(quoted))) if quoted else chunk)
    if not frames:
        return (pl.DataFrame(schema={"_row": pl.Int64, **{n: pl.String for n in names}}), 0,
                last_cell)
    frame = pl.concat(frames, how="vertical", rechunk=False) if len(frames) > 1 else frames[0]
    return frame, skipped, last_cell


def _drop_blank(chunk: pl.DataFrame, names: list[str]) -> tuple[pl.DataFrame, int]:
    """`chunk` without its rows of empty or whitespace-only cells; and how many."""
    if not names:
        return chunk.clear(), chunk.height
    # A blank row has a blank first cell: look at the other cells of those rows only.
    first = chunk[names[0]].str.strip_chars() == ""
    if not first.any():
        return chunk, 0
    blank = first & chunk.select(pl.all_horizontal(
        pl.col(n).str.strip_chars() == "" for n in names)).to_series()
    count = int(blank.sum())
    return (chunk.filter(~blank), count) if count else (chunk, 0)
